/**
 * The signed snapshots a funder pulls: who may read which, what a snapshot holds (and never
 * holds: a natural person's id or name), that it is signed as the JWKS says, checked by code of
 * this file's own, and that it is the same bytes when asked again at the same position.
 */
import { createPublicKey, type JsonWebKey, randomUUID, verify } from 'node:crypto';
import { runCli } from '@ptce/cli';
import {
  type Answer,
  type Client,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let secretary: Client;
let admin: string;

const PERSON_ID = 'jeanne-exemple';
const PERSON_NAME = 'Jeanne Exemplaire-Témoin';

/** A GET as a caller; `''` sends no token. */
async function get(url: string, authorization: string): Promise<Answer & { text: string }> {
  const headers: Record<string, string> = authorization === '' ? {} : { authorization };
  const res = await server.app.inject({ method: 'GET', url, headers });
  const json = String(res.headers['content-type']).includes('json');
  return { status: res.statusCode, body: json ? res.json() : {}, headers: res.headers, text: res.body };
}

/**
 * RFC 8785 as far as a snapshot needs it, written here rather than taken from the code under
 * test: object members sorted by their UTF-16 code units, strings and numbers as JSON.stringify
 * writes them (ECMAScript's number serialisation is the one RFC 8785 prescribes).
 */
function canonical(value: unknown): string {
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    typeof value === 'string'
  ) {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  throw new Error(`no canonical form for ${typeof value}`);
}

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  use: string;
  alg: string;
  status?: string;
}

interface Signed {
  snapshot: Record<string, unknown>;
  signature: { alg: string; keyId: string; value: string };
  generatedAt: string;
}

async function jwks(): Promise<Jwk[]> {
  const answer = await get('/.well-known/jwks.json', '');
  expect(answer.status).toBe(200);
  return (answer.body as { keys: Jwk[] }).keys;
}

/** Whether the signature verifies with the key the JWKS publishes under its keyId. */
function verifies(signed: Signed, keys: readonly Jwk[]): boolean {
  const jwk = keys.find((key) => key.kid === signed.signature.keyId);
  if (!jwk) return false;
  const publicKey = createPublicKey({
    key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JsonWebKey,
    format: 'jwk',
  });
  return verify(
    null,
    Buffer.from(canonical(signed.snapshot), 'utf8'),
    publicKey,
    Buffer.from(signed.signature.value, 'base64url'),
  );
}

/** RFC 4180 read back: quoted fields with doubled quotes, CRLF between records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cell += c;
      i += 1;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else if (c === '\n' || c === '\r') throw new Error(`a bare line break at ${i}`);
    else cell += c;
    i += 1;
  }
  if (cell !== '' || row.length > 0) throw new Error('the last record does not end with CRLF');
  return rows;
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.bearer('admin');
  secretary = clientFor(server, await server.bearer('secretary', ['p1', 'p2', 'p3']));
  await seedPtce(secretary, 'p1');
  await seedPtce(secretary, 'p2');
  const person = await secretary.send('POST', '/v1/ptces/p1/members', {
    organisationId: PERSON_ID,
    name: PERSON_NAME,
    category: 'natural_person',
    occurredAt: '2020-03-01',
  });
  expect(person.status, JSON.stringify(person.body)).toBe(201);
  // A name with a comma and quotes: the CSV must quote it.
  const odd = await secretary.send('POST', '/v1/ptces', {
    ptceId: 'p3',
    name: 'Pôle "Vallée", Sud',
    territory: { name: 'Pays test' },
    pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
    occurredAt: '2020-01-01',
  });
  expect(odd.status, JSON.stringify(odd.body)).toBe(201);
});
afterAll(() => server.close());

describe('who reads snapshots', () => {
  test('no token is 401 on the snapshot and the list; the JWKS needs none', async () => {
    expectProblem(await get('/v1/snapshots/p1', ''), 401, 'unauthorized');
    expectProblem(await get('/v1/snapshots', ''), 401, 'unauthorized');
    expect((await get('/.well-known/jwks.json', '')).status).toBe(200);
  });

  test('funder, secretary, auditor in scope and admin read; out of scope is 403', async () => {
    for (const role of ['funder', 'secretary', 'auditor'] as const) {
      const inScope = await server.bearer(role, ['p1']);
      expect((await get('/v1/snapshots/p1', inScope)).status, role).toBe(200);
      expectProblem(await get('/v1/snapshots/p2', inScope), 403, 'out_of_scope');
    }
    expect((await get('/v1/snapshots/p2', await server.bearer('admin', ['elsewhere']))).status).toBe(200);
  });

  test('a funder of one PTCE lists only its own; an admin lists every registered PTCE', async () => {
    const funder = await server.bearer('funder', ['p2']);
    const mine = await get('/v1/snapshots', funder);
    expect(mine.status).toBe(200);
    expect((mine.body.snapshots as Signed[]).map((s) => s.snapshot.ptceId)).toEqual(['p2']);
    const all = await get('/v1/snapshots', admin);
    expect((all.body.snapshots as Signed[]).map((s) => s.snapshot.ptceId)).toEqual(['p1', 'p2', 'p3']);
    const csv = parseCsv((await get('/v1/snapshots?format=csv', funder)).text);
    expect(csv.map((row) => row[0])).toEqual(['ptceId', 'p2']);
  });

  test('an unknown PTCE in scope is 404; a PTCE in scope never registered is left out of the list', async () => {
    const funder = await server.bearer('funder', ['p1', 'ghost']);
    expectProblem(await get('/v1/snapshots/ghost', funder), 404, 'ptce_not_found');
    const list = await get('/v1/snapshots', funder);
    expect((list.body.snapshots as Signed[]).map((s) => s.snapshot.ptceId)).toEqual(['p1']);
  });
});

describe('bad queries', () => {
  test('knownAt and atPosition together are a 400 naming atPosition', async () => {
    for (const url of [
      '/v1/snapshots/p1?knownAt=2020-01-01&atPosition=00000000000000000001',
      '/v1/snapshots?knownAt=2020-01-01&atPosition=00000000000000000001',
    ]) {
      const answer = await get(url, admin);
      expectProblem(answer, 400, 'validation_failed');
      expect(answer.body.errors).toEqual([
        expect.objectContaining({ path: 'atPosition', in: 'querystring' }),
      ]);
    }
  });

  test('an impossible date, an instant as asOf, an unknown format are 400 naming the parameter', async () => {
    for (const [url, param] of [
      ['/v1/snapshots/p1?asOf=2020-02-30', 'asOf'],
      ['/v1/snapshots/p1?asOf=2020-02-03T10:00:00Z', 'asOf'],
      ['/v1/snapshots/p1?knownAt=yesterday', 'knownAt'],
      ['/v1/snapshots?format=xml', 'format'],
    ] as const) {
      const answer = await get(url, admin);
      expectProblem(answer, 400, 'validation_failed');
      expect(answer.body.errors).toEqual([expect.objectContaining({ path: param, in: 'querystring' })]);
    }
  });
});

describe('what a snapshot holds', () => {
  test('indicators, thresholds and hash-chain heads at the position it was computed on', async () => {
    const answer = await get('/v1/snapshots/p2?asOf=2020-06-01', admin);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const { snapshot } = answer.body as unknown as Signed;
    expect(snapshot).toMatchObject({
      ptceId: 'p2',
      name: 'PTCE p2',
      asOf: '2020-06-01',
      thresholds: { minPartners: 2, collectiveShare: 0.9, minAssociateShare: 0.5, stalledAfterMonths: 12 },
      members: { total: 3, naturalPersons: 0 },
      stage: { asOf: '2020-06-01', naturalPersons: { core: 0, periphery: 0, outside: 0 } },
      eligibility: { asOf: '2020-06-01' },
    });
    const membership = await server.app.eventStore.readStream('membership-p2');
    expect(snapshot.heads).toEqual([
      { stream: 'membership-p2', revision: membership.length - 1, hash: membership.at(-1)!.hash },
    ]);
    expect(snapshot.position).toBe(membership.at(-1)!.position);
  });

  test('the default asOf is today in Paris', async () => {
    const { snapshot } = (await get('/v1/snapshots/p2', admin)).body as unknown as Signed;
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date());
    expect(snapshot.asOf).toBe(today);
  });
});

describe('signatures', () => {
  test('verified by an independent canonicalisation and node:crypto with the key of the JWKS', async () => {
    const keys = await jwks();
    expect(keys).toEqual([
      expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', use: 'sig', alg: 'EdDSA', status: 'current' }),
    ]);
    const answer = (await get('/v1/snapshots/p1?asOf=2020-06-01', await server.bearer('funder', ['p1'])))
      .body as unknown as Signed;
    expect(answer.signature).toMatchObject({ alg: 'Ed25519', keyId: keys[0]!.kid });
    expect(verifies(answer, keys)).toBe(true);
    // The check can fail: one indicator changed, and the signature no longer holds.
    const tampered = { ...answer, snapshot: { ...answer.snapshot, asOf: '2020-06-02' } };
    expect(verifies(tampered, keys)).toBe(false);
  });

  test('the key id is the RFC 7638 thumbprint of the published key', async () => {
    const { createHash } = await import('node:crypto');
    for (const key of await jwks()) {
      const thumbprint = createHash('sha256')
        .update(`{"crv":"${key.crv}","kty":"${key.kty}","x":"${key.x}"}`)
        .digest('base64url');
      expect(key.kid).toBe(thumbprint);
    }
  });

  test('the same asOf and atPosition give the same bytes, after more events too', async () => {
    const first = (await get('/v1/snapshots/p2?asOf=2020-06-01', admin)).body as unknown as Signed;
    const at = `/v1/snapshots/p2?asOf=2020-06-01&atPosition=${first.snapshot.position}`;
    const again = (await get(at, admin)).body as unknown as Signed;
    expect(canonical(again.snapshot)).toBe(canonical(first.snapshot));
    expect(again.signature).toEqual(first.signature);

    const joined = await secretary.send('POST', '/v1/ptces/p2/members', {
      organisationId: 'labo',
      name: 'Labo',
      category: 'research_higher_education',
      occurredAt: '2020-04-01',
    });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    const later = (await get(at, admin)).body as unknown as Signed;
    expect(canonical(later.snapshot)).toBe(canonical(first.snapshot));
    expect(later.signature).toEqual(first.signature);
    const now = (await get('/v1/snapshots/p2?asOf=2020-06-01', admin)).body as unknown as Signed;
    expect(now.snapshot.position).not.toBe(first.snapshot.position);
    expect((now.snapshot.members as { total: number }).total).toBe(4);
  });
});

describe('CSV', () => {
  test('RFC 4180: a header row, one row per PTCE, CRLF, quoted fields with doubled quotes', async () => {
    const answer = await get('/v1/snapshots?format=csv&asOf=2020-06-01', admin);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(answer.text).toContain('"Pôle ""Vallée"", Sud"');
    const rows = parseCsv(answer.text);
    const [header, ...records] = rows;
    expect(header).toEqual(
      expect.arrayContaining(['ptceId', 'name', 'asOf', 'position', 'stage', 'since', 'eligible']),
    );
    expect(header).toEqual(expect.arrayContaining(['steeringCoverage', 'categoryCoverage', 'members']));
    expect(records.map((r) => r[0])).toEqual(['p1', 'p2', 'p3']);
    for (const record of records) expect(record).toHaveLength(header!.length);
    const col = (name: string) => header!.indexOf(name);
    const p3 = records[2]!;
    expect(p3[col('name')]).toBe('Pôle "Vallée", Sud');
    expect(p3[col('asOf')]).toBe('2020-06-01');
    // Each row's signature is that of the JSON snapshot of the same PTCE, asOf and position.
    const json = (await get(`/v1/snapshots/p3?asOf=2020-06-01&atPosition=${p3[col('position')]}`, admin))
      .body as unknown as Signed;
    expect(p3[col('signature')]).toBe(json.signature.value);
    expect(p3[col('stage')]).toBe(json.snapshot.stage && (json.snapshot.stage as { stage: string }).stage);
  });
});

describe('privacy', () => {
  test("a natural person's id and name appear nowhere a funder receives: snapshot, signed bytes, CSV", async () => {
    const funder = await server.bearer('funder', ['p1']);
    const answer = await get('/v1/snapshots/p1?asOf=2020-06-01', funder);
    expect(answer.status).toBe(200);
    const signed = answer.body as unknown as Signed;
    const csv = (await get('/v1/snapshots?format=csv&asOf=2020-06-01', funder)).text;
    const list = (await get('/v1/snapshots?asOf=2020-06-01', funder)).text;
    for (const text of [answer.text, canonical(signed.snapshot), csv, list]) {
      expect(text).not.toContain(PERSON_ID);
      expect(text).not.toContain(PERSON_NAME);
      expect(text).not.toContain('Jeanne');
    }
    const snapshot = signed.snapshot as {
      members: { total: number; naturalPersons: number };
      stage: {
        core: string[];
        periphery: string[];
        outside: string[];
        naturalPersons: Record<string, number>;
      };
      participation: {
        byMember: unknown[];
        naturalPersons: number;
        byCategory: Record<string, { members: number }>;
      };
    };
    // Counted, never named.
    expect(snapshot.members).toEqual({ total: 4, naturalPersons: 1 });
    const { core, periphery, outside } = snapshot.stage.naturalPersons;
    expect(core! + periphery! + outside!).toBe(1);
    expect(snapshot.participation.naturalPersons).toBe(1);
    expect(snapshot.participation.byMember).toHaveLength(3);
    expect(snapshot.participation.byCategory.natural_person?.members).toBe(1);
    expect(verifies(signed, await jwks())).toBe(true);
  });
});

describe('privacy in warnings and free text', () => {
  test('a natural person as pilot, then leaving by a fact another tool wrote: detail and warning name no one', async () => {
    const writer = clientFor(server, await server.bearer('secretary', ['p4']));
    await seedPtce(writer, 'p4');
    const joined = await writer.send('POST', '/v1/ptces/p4/members', {
      organisationId: PERSON_ID,
      name: PERSON_NAME,
      category: 'natural_person',
      occurredAt: '2020-03-01',
    });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    const pilot = await writer.send('POST', '/v1/ptces/p4/pilot', {
      organisationId: PERSON_ID,
      occurredAt: '2020-04-01',
    });
    expect(pilot.status, JSON.stringify(pilot.body)).toBe(200);
    const funder = await server.bearer('funder', ['p4']);
    const auditor = await server.bearer('auditor', ['p4']);

    // While pilot: the read service's eligibility names the pilot; the snapshot's does not.
    expect(JSON.stringify((await get('/v1/ptces/p4/eligibility?asOf=2020-04-15', auditor)).body)).toContain(
      PERSON_ID,
    );
    const asPilot = await get('/v1/snapshots/p4?asOf=2020-04-15', funder);
    expect(asPilot.status, asPilot.text).toBe(200);
    expect(asPilot.text).not.toContain(PERSON_ID);
    expect(asPilot.text).toContain('(a natural person)');

    // The write side refuses the pilot's departure; another tool's fact is kept, with a warning.
    await server.app.eventStore.append(
      'membership-p4',
      [
        {
          eventId: randomUUID(),
          type: 'MemberLeft',
          schemaVersion: 1,
          ptceId: 'p4',
          occurredAt: '2020-05-01',
          recordedBy: 'another-tool',
          data: { organisationId: PERSON_ID },
        },
      ],
      { expectedRevision: 'any' },
    );
    const read = await get('/v1/ptces/p4/stage?asOf=2020-06-01', auditor);
    expect(JSON.stringify(read.body.warnings)).toContain(PERSON_ID);
    const answer = await get('/v1/snapshots/p4?asOf=2020-06-01', funder);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.text).not.toContain(PERSON_ID);
    expect(answer.text).not.toContain(PERSON_NAME);
    const signed = answer.body as unknown as Signed;
    const stage = signed.snapshot.stage as { warnings: { code: string; message: string }[] };
    expect(stage.warnings).toEqual([
      expect.objectContaining({ code: 'pilot_left', message: expect.stringContaining('(a natural person)') }),
    ]);
    expect(verifies(signed, await jwks())).toBe(true);
  });
});

describe('key rotation', () => {
  test('a snapshot signed before a rotation still verifies against the JWKS after it', async () => {
    const before = (await get('/v1/snapshots/p1?asOf=2020-06-01', admin)).body as unknown as Signed;
    let said = '';
    const code = await runCli(['keys', 'rotate'], {
      env: { DATA_DIR: server.config.DATA_DIR, LOG_LEVEL: 'silent' },
      stdout: (text) => {
        said += text;
      },
      stderr: () => {},
    });
    expect(code).toBe(0);
    const keys = await jwks();
    const keyId = keys[0]!.kid;
    expect(said).toContain(`${keyId} is current; ${before.signature.keyId} retired`);
    expect(keys.map((k) => [k.kid, k.status])).toEqual([
      [keyId, 'current'],
      [before.signature.keyId, 'retired'],
    ]);
    expect(verifies(before, keys)).toBe(true);
    // The server signs with the new key at once, no restart.
    const after = (await get('/v1/snapshots/p1?asOf=2020-06-01', admin)).body as unknown as Signed;
    expect(after.signature.keyId).toBe(keyId);
    expect(canonical(after.snapshot)).toBe(canonical(before.snapshot));
    expect(verifies(after, keys)).toBe(true);
  });
});
