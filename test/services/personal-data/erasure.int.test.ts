/**
 * A natural person's name is never stored in the clear, and an erasure makes it unreadable for
 * good while counts, stages and hash chains stay as they were. Run by both test projects: on a
 * SQLite file (searched byte by byte, WAL included) and on PostgreSQL (searched through pg_dump).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { verifyChain } from '@ptce/events';
import {
  type Client,
  clientFor,
  createTempDatabase,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';

const onPostgres = process.env.PTCE_TEST_STORE === 'postgres';

interface Store {
  /** Every byte the store holds, as a tool reading its files (SQLite) or dumping it (pg_dump) would see them. */
  contents(): Promise<Buffer>;
  wrappedKey(subject: string): Promise<Buffer | undefined>;
  /** How a key's bytes would appear in `contents`. */
  asStored(key: Buffer): Buffer;
  drop(): Promise<void>;
}

async function sqliteFileStore(dir: string): Promise<{ url: string; store: Store }> {
  const file = path.join(dir, 'personal.db');
  return {
    url: `sqlite:${file}`,
    store: {
      async contents() {
        const files = fs.readdirSync(dir).filter((f) => f.startsWith('personal.db'));
        return Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
      },
      async wrappedKey(subject) {
        const db = new Database(file, { readonly: true, fileMustExist: true });
        try {
          return db
            .prepare<[string], Buffer>('SELECT wrapped FROM personal_data_keys WHERE subject = ?')
            .pluck()
            .get(subject);
        } finally {
          db.close();
        }
      },
      asStored: (key) => key,
      drop: async () => {},
    },
  };
}

async function postgresStore(): Promise<{ url: string; store: Store }> {
  const database = await createTempDatabase('ptce_personal');
  return {
    url: database.url,
    store: {
      async contents() {
        return execFileSync('pg_dump', ['--dbname', database.url, '--no-owner'], {
          maxBuffer: 256 * 1024 * 1024,
        });
      },
      async wrappedKey(subject) {
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          const { rows } = await client.query<{ wrapped: Buffer }>(
            'SELECT wrapped FROM personal_data_keys WHERE subject = $1',
            [subject],
          );
          return rows[0]?.wrapped;
        } finally {
          await client.end();
        }
      },
      // pg_dump writes bytea as \x followed by hex digits.
      asStored: (key) => Buffer.from(key.toString('hex')),
      drop: () => database.drop(),
    },
  };
}

let dir: string;
let server: TestServer;
let store: Store;
let secretary: Client;
let admin: Client;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'ptce-personal-'));
  const opened = onPostgres ? await postgresStore() : await sqliteFileStore(dir);
  store = opened.store;
  server = await startTestServer({ EVENT_STORE_URL: opened.url });
  secretary = clientFor(server, await server.bearer('secretary'));
  admin = clientFor(server, await server.bearer('admin'));
});

afterEach(async () => {
  await server.close();
  await store.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const get = async (url: string) => {
  const res = await server.app.inject({ url, headers: { authorization: await server.bearer('auditor') } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Record<string, unknown>;
};

/** An answer without where it was read: what must not change when a person is erased. */
const content = ({ position: _p, knownAt: _k, ...rest }: Record<string, unknown>) => rest;

describe(`a natural person's data on ${onPostgres ? 'PostgreSQL' : 'a SQLite file'}`, () => {
  test('is stored sealed, read in clear, and once erased is gone from the store while counts, stages and chains hold', async () => {
    const ptceId = 'perso';
    await seedPtce(secretary, ptceId);
    // A name no other byte of the store could hold by chance.
    const name = `Camille Testeuse ${randomUUID()}`;
    const joined = await secretary.send(
      'POST',
      `/v1/ptces/${ptceId}/members`,
      { organisationId: 'citoyen-1', name, category: 'natural_person', occurredAt: '2020-03-01' },
      { 'idempotency-key': 'join-citoyen-1' },
    );
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    expect(JSON.stringify(joined.body)).not.toContain(name);
    // A correction of the name is sealed as the join was; an organisation's name stays in clear.
    const renamed = `${name} (née Exemple)`;
    const corrected = await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/citoyen-1`, {
      name: renamed,
      reason: 'nom d’usage communiqué par la personne',
    });
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);

    const state = await get(`/v1/ptces/${ptceId}`);
    const members = state.members as { organisationId: string; name?: string; erased?: boolean }[];
    expect(members.find((m) => m.organisationId === 'citoyen-1')).toMatchObject({ name: renamed });
    expect(members.find((m) => m.organisationId === 'cc')).toMatchObject({ name: 'CC' });
    const stored = (await server.app.eventStore.readStream(`membership-${ptceId}`)).filter(
      (e) => e.type === 'MemberJoined' && e.data.organisationId === 'citoyen-1',
    );
    expect(stored[0]?.data.name).toMatchObject({ sealed: 'A256GCM', subject: `${ptceId}/citoyen-1` });

    const contents = await store.contents();
    expect(contents.includes(Buffer.from(name))).toBe(false);
    expect(contents.includes(Buffer.from('Camille Testeuse'))).toBe(false);
    const key = await store.wrappedKey(`${ptceId}/citoyen-1`);
    expect(key).toBeDefined();
    // The search would find the key if it were there: it is, before the erasure.
    expect(contents.includes(store.asStored(key!))).toBe(true);

    const before = {
      stage: content(await get(`/v1/ptces/${ptceId}/stage?asOf=2021-01-01`)),
      participation: content(await get(`/v1/ptces/${ptceId}/participation?asOf=2021-01-01`)),
      eligibility: content(await get(`/v1/ptces/${ptceId}/eligibility?asOf=2021-01-01`)),
    };

    const erasure = { reason: "demande d'effacement RGPD du 30 novembre 2026" };
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/members/citoyen-1/erasure`, erasure),
      403,
      'role_forbidden',
    );
    expectProblem(
      await admin.send('POST', `/v1/ptces/${ptceId}/members/cc/erasure`, erasure),
      422,
      'not_a_natural_person',
    );
    expectProblem(
      await admin.send('POST', `/v1/ptces/${ptceId}/members/nobody/erasure`, erasure),
      404,
      'member_not_found',
    );
    const erased = await admin.send('POST', `/v1/ptces/${ptceId}/members/citoyen-1/erasure`, erasure);
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expectProblem(
      await admin.send('POST', `/v1/ptces/${ptceId}/members/citoyen-1/erasure`, erasure),
      409,
      'already_erased',
    );

    const after = await get(`/v1/ptces/${ptceId}`);
    const person = (after.members as Record<string, unknown>[]).find((m) => m.organisationId === 'citoyen-1');
    expect(person).toMatchObject({ organisationId: 'citoyen-1', erased: true, category: 'natural_person' });
    expect(person).not.toHaveProperty('name');
    expect((after.members as unknown[]).length).toBe(members.length);
    // Read as known before the erasure, the person is erased too: the key is gone for every read.
    const earlier = await get(`/v1/ptces/${ptceId}?knownAt=${encodeURIComponent(String(state.knownAt))}`);
    expect(
      (earlier.members as Record<string, unknown>[]).find((m) => m.organisationId === 'citoyen-1'),
    ).toMatchObject({
      erased: true,
    });
    expect({
      stage: content(await get(`/v1/ptces/${ptceId}/stage?asOf=2021-01-01`)),
      participation: content(await get(`/v1/ptces/${ptceId}/participation?asOf=2021-01-01`)),
      eligibility: content(await get(`/v1/ptces/${ptceId}/eligibility?asOf=2021-01-01`)),
    }).toEqual(before);

    const log = await server.app.eventStore.readAll();
    expect(verifyChain(log)).toMatchObject({ ok: true });
    const record = log.find((e) => e.type === 'PersonalDataErased');
    expect(record?.data).toEqual({ organisationId: 'citoyen-1', reason: erasure.reason });

    expect(await store.wrappedKey(`${ptceId}/citoyen-1`)).toBeUndefined();
    const left = await store.contents();
    expect(left.includes(store.asStored(key!))).toBe(false);
    expect(left.includes(Buffer.from(name))).toBe(false);

    // Nothing can bring the person back under the same id, nor record a name for them again.
    expectProblem(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/citoyen-1`, {
        name: 'Autre',
        reason: 'essai',
      }),
      409,
      'member_erased',
    );
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/retractions`, {
        eventId: record!.eventId,
        reason: 'erreur',
      }),
      422,
      'cannot_retract_erasure',
    );
  });

  test('a category corrected to natural_person is refused: the name already went in clear', async () => {
    await seedPtce(secretary, 'perso2');
    expectProblem(
      await secretary.send('PATCH', '/v1/ptces/perso2/members/garage', {
        category: 'natural_person',
        reason: 'auto-entrepreneur en nom propre',
      }),
      422,
      'personal_data_in_clear',
    );
  });

  test('a founding pilot who is a natural person is sealed too, and a refusal never echoes a name', async () => {
    const name = `Dominique Pilote ${randomUUID()}`;
    const registered = await secretary.send('POST', '/v1/ptces', {
      ptceId: 'perso3',
      name: 'PTCE perso3',
      territory: { name: 'Pays test' },
      pilot: { organisationId: 'citoyenne', name, category: 'natural_person' },
      occurredAt: '2020-01-01',
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const tooLong = `${name} ${'x'.repeat(300)}`;
    const refused = await secretary.send('POST', '/v1/ptces/perso3/members', {
      organisationId: 'autre',
      name: tooLong,
      category: 'natural_person',
      occurredAt: '2020-02-01',
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).not.toContain(name);
    const state = await get('/v1/ptces/perso3');
    expect((state.members as Record<string, unknown>[])[0]).toMatchObject({
      organisationId: 'citoyenne',
      name,
    });
    expect((await store.contents()).includes(Buffer.from(name))).toBe(false);
  });
});
