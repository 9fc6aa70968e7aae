import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '@ptce/cli';
import { type Scenario, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import valCoop from '../scenarios/val-coop.json' with { type: 'json' };

const scenario = valCoop as Scenario;
const writes = scenario.steps.filter((step) => step.method !== null && step.path !== null);

let server: TestServer;
let url: string;
let dir: string;

beforeAll(async () => {
  server = await startTestServer();
  url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-import-'));
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[], fetchImpl?: typeof fetch) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    // The server's own data directory: the command mints its token with the deployment's key.
    env: { DATA_DIR: server.config.DATA_DIR, LOG_LEVEL: 'silent', PTCE_URL: url },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  return { code, stdout, stderr };
}

async function eventCount(ptceId: string): Promise<number> {
  const res = await server.app.inject({
    method: 'GET',
    url: `/v1/audit/ptces/${ptceId}/events?limit=1000`,
    headers: { authorization: await server.bearer('admin') },
  });
  return res.statusCode === 404 ? 0 : (res.json() as { events: unknown[] }).events.length;
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('ptce import FILE.ndjson', () => {
  const file = () =>
    write(
      'val-coop.ndjson',
      `${writes.map((s) => JSON.stringify({ method: s.method, path: s.path, body: s.body })).join('\n')}\n`,
    );

  test('an interrupted import run again resumes where it stopped and records every fact once', async () => {
    const history = file();
    let parts = 0;
    // The connection is lost after the second part has been written.
    const flaky: typeof fetch = async (input, init) => {
      if (++parts > 2) throw new TypeError('fetch failed: connection reset');
      return fetch(input, init);
    };
    const cut = await cli(['import', history, '--ptce', 'val-coop', '--part-lines', '10'], flaky);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain('connection reset');
    const afterCut = await eventCount('val-coop');
    expect(afterCut).toBeGreaterThan(0);

    const resumed = await cli(['import', history, '--ptce', 'val-coop', '--part-lines', '10']);
    // The scenario's own refusals (a join twice, a contradiction…) are refused again: exit 1.
    expect(resumed.code).toBe(1);
    const refusals = writes.filter((s) => (s.expect ?? 0) >= 400).length;
    expect(resumed.stdout).toContain(
      `${writes.length} lines, ${writes.length - refusals - 20} recorded, 20 already recorded, ${refusals} refused`,
    );
    // Each refusal names its line of the file, its status and code.
    const lastRefused = writes.length;
    expect(resumed.stderr).toMatch(new RegExp(`val-coop\\.ndjson:${lastRefused}: 400 validation_failed`));
    expect(resumed.stderr).toContain(`import: ${writes.length}/${writes.length} lines`);

    const reference = await startTestServer();
    try {
      const once = await reference.app.inject({
        method: 'POST',
        url: '/v1/ptces/val-coop/imports',
        headers: {
          authorization: await reference.bearer('secretary', ['val-coop']),
          'content-type': 'application/x-ndjson',
        },
        payload: fs.readFileSync(history, 'utf8'),
      });
      expect(once.statusCode).toBe(200);
      const events = await reference.app.inject({
        method: 'GET',
        url: '/v1/audit/ptces/val-coop/events?limit=1000',
        headers: { authorization: await reference.bearer('admin') },
      });
      expect(await eventCount('val-coop')).toBe((events.json() as { events: unknown[] }).events.length);
    } finally {
      await reference.close();
    }
  });

  test('a file with blank lines and CRLF line ends keeps the keys a POST of the whole file gives its lines', async () => {
    const recognitions = [1, 2, 3, 4].map((n) =>
      JSON.stringify({
        method: 'POST',
        path: '/v1/ptces/val-coop/recognitions',
        body: { programme: `Programme ${n}`, grantor: 'État', occurredAt: '2024-01-01' },
      }),
    );
    const text = `${recognitions[0]}\r\n\r\n${recognitions[1]}\r\n${recognitions[2]}\r\n\r\n\r\n${recognitions[3]}\r\n`;
    const whole = await server.app.inject({
      method: 'POST',
      url: '/v1/ptces/val-coop/imports',
      headers: {
        authorization: await server.bearer('secretary', ['val-coop'], 'cli:secretary:val-coop'),
        'content-type': 'application/x-ndjson',
      },
      payload: text,
    });
    expect((whole.json() as { recorded: number }).recorded).toBe(4);
    const again = await cli([
      'import',
      write('crlf.ndjson', text),
      '--ptce',
      'val-coop',
      '--part-lines',
      '1',
    ]);
    expect(again.stdout).toContain('4 lines, 0 recorded, 4 already recorded, 0 refused');
    expect(again.code).toBe(0);
  });

  test('bad arguments exit 2 with a message on stderr', async () => {
    expect((await cli(['import'])).code).toBe(2);
    expect((await cli(['import', file()])).stderr).toContain('--ptce <id> is required');
    const wrong = await cli(['import', write('history.txt', '{}'), '--ptce', 'val-coop']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('.ndjson');
  });
});

describe('ptce import members.csv', () => {
  beforeAll(async () => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/v1/ptces',
      headers: { authorization: await server.bearer('secretary', ['pays-sud']) },
      payload: {
        ptceId: 'pays-sud',
        name: 'Pays Sud Coopérations',
        territory: { name: 'Pays Sud (fictif)' },
        pilot: { organisationId: 'tiers-lieu', name: 'Tiers-lieu du Sud', category: 'ess_enterprise' },
        occurredAt: '2015-01-10',
      },
    });
    expect(res.statusCode).toBe(201);
  });

  const rows = (seventh: string) =>
    [
      'organisationId,name,category,legalStatus,joinedAt,leftAt,leftReason',
      'mairie-sud,Mairie du Sud,local_authority,public,2015-03-01,,',
      ',"Ressourcerie ""La Boucle""",ess_enterprise,private,2015-06-01,,',
      'lycee-sud,Lycée des métiers du Sud,training_body,public,2016-09-01,,',
      'scop-bois,"Scop Bois, Forêt et Habitat",ess_enterprise,,2017-01-15,2021-06-30,"cessation d\'activité"',
      'banque-locale,Banque locale,enterprise,private,2018-02-01,,',
      seventh,
      'labo-sud,Laboratoire du Sud,research_higher_education,public,2019-04-01,,',
    ].join('\r\n');

  test('a CSV with a bad category on line 7 is refused naming line 7, and nothing is recorded', async () => {
    const before = await eventCount('pays-sud');
    const file = write('members-bad.csv', rows('cafe-asso,Café associatif,association,private,2018-05-01,,'));
    const answer = await cli(['import', file, '--ptce', 'pays-sud']);
    expect(answer.code).toBe(1);
    expect(answer.stderr).toMatch(/members-bad\.csv:7: 400 validation_failed .*category/);
    expect(answer.stderr.match(/members-bad\.csv:\d+:/g)).toEqual(['members-bad.csv:7:']);
    expect(answer.stderr).toContain('nothing imported');
    expect(await eventCount('pays-sud')).toBe(before);
  });

  test('a row with more fields than the header (an unquoted comma) is refused naming its line: exit 2', async () => {
    const file = write(
      'members-shifted.csv',
      ['organisationId,name,category,joinedAt', 'scop-bois,Scop Bois, Forêt,ess_enterprise,2017-01-15'].join(
        '\n',
      ),
    );
    const answer = await cli(['import', file, '--ptce', 'pays-sud']);
    expect(answer.code).toBe(2);
    expect(answer.stderr).toContain('line 2 of the CSV has 5 fields where the header names 4');
  });

  test('a clean CSV records each join and departure once, and again records nothing', async () => {
    const before = await eventCount('pays-sud');
    const file = write(
      'members.csv',
      `${rows('cafe-asso,Café associatif,ess_enterprise,private,2018-05-01,,')}\r\n`,
    );
    const first = await cli(['import', file, '--ptce', 'pays-sud']);
    expect(first.stderr).not.toMatch(/members\.csv:\d+:/);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('8 lines, 8 recorded, 0 already recorded, 0 refused');
    expect(await eventCount('pays-sud')).toBe(before + 8);
    const again = await cli(['import', file, '--ptce', 'pays-sud']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('8 lines, 0 recorded, 8 already recorded, 0 refused');
    const state = await server.app.inject({
      method: 'GET',
      // Before scop-bois left: a current read lists the members of today.
      url: '/v1/ptces/pays-sud?asOf=2020-01-01',
      headers: { authorization: await server.bearer('secretary', ['pays-sud']) },
    });
    const members = (state.json() as { members: { organisationId: string; name?: string }[] }).members;
    expect(members.map((m) => m.organisationId)).toContain('ressourcerie-la-boucle');
    expect(members.find((m) => m.organisationId === 'scop-bois')?.name).toBe('Scop Bois, Forêt et Habitat');
  });
});
