import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStores } from '@ptce/event-store';
import { type NewEvent, streamName } from '@ptce/events';
import { loadKeyEncryptionKey, PersonalData, SnapshotKeys } from '@ptce/platform';
import { ChainCheckpoints } from '@ptce/read-models';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../src/cli.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-audit-'));
const file = path.join(dataDir, 'ptce.db');
const EVENT_STORE_URL = `sqlite:${file}`;
const name = `Noa Exportée ${randomUUID()}`;

const fact = (type: string, occurredAt: string, data: Record<string, unknown>): NewEvent => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  ptceId: 'alpha',
  occurredAt,
  recordedBy: 'cli-test',
  data,
});

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: { DATA_DIR: dataDir, EVENT_STORE_URL, LOG_LEVEL: 'silent' },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  const stores = await openStores(EVENT_STORE_URL);
  try {
    const personal = await PersonalData.open(
      stores.personalKeys,
      loadKeyEncryptionKey({ file: path.join(dataDir, 'personal-data.key') }),
    );
    const sealed = (await personal.prepare(['alpha/citoyen'])).seal('alpha/citoyen', name);
    await stores.events.append(
      streamName('membership', 'alpha'),
      [
        fact('PtceRegistered', '2020-01-01', {
          name: 'PTCE alpha',
          territory: { name: 'Territoire' },
          pilot: { organisationId: 'pilote', name: 'Pilote, "la" coopérative', category: 'ess_enterprise' },
        }),
        fact('MemberJoined', '2020-02-01', {
          organisationId: 'mairie',
          name: 'Mairie',
          category: 'local_authority',
        }),
        fact('MemberJoined', '2020-03-01', {
          organisationId: 'citoyen',
          name: sealed,
          category: 'natural_person',
        }),
      ],
      { expectedRevision: 'no_stream' },
    );
  } finally {
    await stores.close();
  }
});

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('ptce export, replay, verify', () => {
  test('export streams every event as NDJSON, a natural person opened beside the sealed data', async () => {
    const { code, stdout } = await run(['export', '--ptce', 'alpha']);
    expect(code).toBe(0);
    const events = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['PtceRegistered', 'MemberJoined', 'MemberJoined']);
    expect(events[2]).toMatchObject({ personal: { name }, data: { name: { sealed: 'A256GCM' } } });
  });

  test('export as CSV is RFC 4180: a header, CRLF, quotes doubled', async () => {
    const { code, stdout } = await run(['export', '--ptce', 'alpha', '--format', 'csv']);
    expect(code).toBe(0);
    const lines = stdout.split('\r\n');
    expect(lines[0]).toBe(
      'position,stream,revision,eventId,type,occurredAt,recordedAt,recordedBy,data,evidence,personal,prevHash,hash',
    );
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe('');
    expect(lines[1]).toContain('\\""la\\""');
  });

  test('replay gives every answer at once, the person named', async () => {
    const { code, stdout } = await run(['replay', '--ptce', 'alpha', '--as-of', '2020-06-01']);
    expect(code).toBe(0);
    const body = JSON.parse(stdout) as {
      eventsApplied: number;
      state: { members: { name?: string }[] };
      stage: unknown;
    };
    expect(body.eventsApplied).toBe(3);
    expect(body.state.members.map((m) => m.name)).toContain(name);
    expect(body.stage).toMatchObject({ asOf: '2020-06-01' });
    const before = JSON.parse(
      (await run(['replay', '--ptce', 'alpha', '--as-of', '2020-06-01', '--known-at', '2000-01-01']))
        .stdout || 'null',
    );
    expect(before).toBeNull();
  });

  test('bad arguments exit 2 with a message', async () => {
    for (const argv of [
      ['replay', '--ptce', 'alpha'],
      ['replay', '--ptce', 'alpha', '--as-of', '2020-13-01'],
      ['export'],
      ['export', '--ptce', 'alpha', '--format', 'xml'],
      ['verify', '--nope'],
    ]) {
      const { code, stderr } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr.length).toBeGreaterThan(0);
    }
  });

  test('verify holds, then exits 1 naming the event altered in the file', async () => {
    const ok = await run(['verify']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^alpha: ok, 3 events/);
    const db = new Database(file);
    const row = db
      .prepare<[], { event_id: string }>(
        "SELECT event_id FROM events WHERE revision = 1 AND stream = 'membership-alpha'",
      )
      .get()!;
    db.prepare("UPDATE events SET occurred_at = '2019-02-01' WHERE event_id = ?").run(row.event_id);
    db.close();
    const broken = await run(['verify', '--ptce', 'alpha']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`BROKEN at event ${row.event_id}`);
  });

  test('verify holds the chains against the signed checkpoints: the last event deleted exits 1', async () => {
    const stores = await openStores(EVENT_STORE_URL);
    const beta = (type: string, data: Record<string, unknown>) => ({
      ...fact(type, '2020-01-01', data),
      ptceId: 'beta',
    });
    let last: string;
    try {
      const appended = await stores.events.append(
        streamName('membership', 'beta'),
        [
          beta('PtceRegistered', { name: 'PTCE beta', territory: { name: 'T' } }),
          beta('MemberJoined', { organisationId: 'ferme', name: 'Ferme', category: 'enterprise' }),
        ],
        { expectedRevision: 'no_stream' },
      );
      last = appended.events.at(-1)!.eventId;
      const keys = new SnapshotKeys(dataDir);
      keys.ensure();
      await new ChainCheckpoints({
        events: stores.events,
        store: stores.checkpoints,
        keys,
        now: Date.now,
      }).take('beta');
    } finally {
      await stores.close();
    }
    const ok = await run(['verify', '--ptce', 'beta']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^beta: ok, 2 events, .*agrees with 1 signed checkpoint/);

    const db = new Database(file);
    db.prepare('DELETE FROM events WHERE event_id = ?').run(last);
    db.close();
    const truncated = await run(['verify', '--ptce', 'beta']);
    expect(truncated.code).toBe(1);
    expect(truncated.stdout).toMatch(
      /^beta: CHECKPOINT MISMATCH \(missing\) .* membership-beta@1: expected [0-9a-f]{64}, found missing/,
    );

    // Every event of the PTCE gone: the log no longer names it, its checkpoints still do.
    const all = new Database(file);
    all.prepare("DELETE FROM events WHERE ptce_id = 'beta'").run();
    all.close();
    const everything = await run(['verify']);
    expect(everything.code).toBe(1);
    expect(everything.stdout).toMatch(/^beta: CHECKPOINT MISMATCH \(missing\)/m);
  });
});
