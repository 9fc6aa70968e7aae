import type { Role } from '@ptce/platform';
import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Call, expectProblem, send, valCoop } from './helpers.ts';

let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.bearer('admin');
});
afterAll(() => server.close());

interface Route {
  readonly name: string;
  readonly status: 200 | 201;
  /** Brings a fresh PTCE to where the call is valid, as an admin; returns the call. */
  readonly prepare: (ptceId: string) => Promise<Call>;
}

async function given(...calls: Call[]): Promise<string[]> {
  const ids: string[] = [];
  for (const call of calls) {
    const res = await send(server, call, admin);
    expect(res.statusCode, res.body).toBeLessThan(300);
    ids.push(...(res.json() as { eventIds: string[] }).eventIds);
  }
  return ids;
}

const routes: readonly Route[] = [
  { name: 'POST /v1/ptces', status: 201, prepare: async (p) => valCoop.register(p) },
  {
    name: 'POST members',
    status: 201,
    prepare: async (p) => {
      await given(valCoop.register(p));
      return valCoop.joinCcVal(p);
    },
  },
  {
    name: 'POST departure',
    status: 200,
    prepare: async (p) => {
      await given(valCoop.register(p), valCoop.joinCcVal(p));
      return {
        method: 'POST',
        url: `/v1/ptces/${p}/members/cc-val/departure`,
        payload: { occurredAt: '2019-01-01' },
      };
    },
  },
  {
    name: 'PATCH member',
    status: 200,
    prepare: async (p) => {
      await given(valCoop.register(p), valCoop.joinCcVal(p));
      return {
        method: 'PATCH',
        url: `/v1/ptces/${p}/members/cc-val`,
        payload: { category: 'other_legal_person', reason: 'r' },
      };
    },
  },
  {
    name: 'POST pilot',
    status: 200,
    prepare: async (p) => {
      await given(valCoop.register(p), valCoop.joinCcVal(p));
      return {
        method: 'POST',
        url: `/v1/ptces/${p}/pilot`,
        payload: { organisationId: 'cc-val', occurredAt: '2019-01-01' },
      };
    },
  },
  {
    name: 'POST legal-entity',
    status: 201,
    prepare: async (p) => {
      await given(valCoop.register(p));
      return valCoop.legalEntity(p);
    },
  },
  {
    name: 'PATCH legal-entity',
    status: 200,
    prepare: async (p) => {
      await given(valCoop.register(p), valCoop.legalEntity(p));
      return {
        method: 'PATCH',
        url: `/v1/ptces/${p}/legal-entity`,
        payload: { legalForm: 'association', reason: 'r' },
      };
    },
  },
  {
    name: 'POST associates',
    status: 201,
    prepare: async (p) => {
      await given(valCoop.register(p), valCoop.legalEntity(p));
      return valCoop.associate(p);
    },
  },
  {
    name: 'POST associate withdrawal',
    status: 200,
    prepare: async (p) => {
      await given(valCoop.register(p), valCoop.legalEntity(p), valCoop.associate(p));
      return {
        method: 'POST',
        url: `/v1/ptces/${p}/legal-entity/associates/asso-mobilite/withdrawal`,
        payload: { occurredAt: '2022-01-01' },
      };
    },
  },
  {
    name: 'POST recognitions',
    status: 201,
    prepare: async (p) => {
      await given(valCoop.register(p));
      return valCoop.recognition(p);
    },
  },
  {
    name: 'POST retractions',
    status: 200,
    prepare: async (p) => {
      const [, joined] = await given(valCoop.register(p), valCoop.joinCcVal(p));
      return { method: 'POST', url: `/v1/ptces/${p}/retractions`, payload: { eventId: joined, reason: 'r' } };
    },
  },
];

type Caller =
  | { readonly kind: 'header'; readonly header: string | undefined }
  | { readonly kind: 'token'; readonly role: Role; readonly scope: 'own' | 'other' | '*' };

const cases: readonly { name: string; caller: Caller; status: number; code?: string }[] = [
  { name: 'no token', caller: { kind: 'header', header: undefined }, status: 401, code: 'unauthorized' },
  {
    name: 'a malformed token',
    caller: { kind: 'header', header: 'Bearer not.a.jwt' },
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'not a bearer scheme',
    caller: { kind: 'header', header: 'Basic YWRtaW46YWRtaW4=' },
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'an auditor',
    caller: { kind: 'token', role: 'auditor', scope: '*' },
    status: 403,
    code: 'role_forbidden',
  },
  {
    name: 'a funder',
    caller: { kind: 'token', role: 'funder', scope: 'own' },
    status: 403,
    code: 'role_forbidden',
  },
  {
    name: 'a secretary out of scope',
    caller: { kind: 'token', role: 'secretary', scope: 'other' },
    status: 403,
    code: 'out_of_scope',
  },
  { name: 'a secretary in scope', caller: { kind: 'token', role: 'secretary', scope: 'own' }, status: 0 },
  { name: 'a secretary of every PTCE', caller: { kind: 'token', role: 'secretary', scope: '*' }, status: 0 },
  { name: 'an admin', caller: { kind: 'token', role: 'admin', scope: '*' }, status: 0 },
];

let counter = 0;

describe.each(routes)('$name', (route) => {
  test.each(cases)('$name → $status (0: success)', async ({ caller, status, code }) => {
    const p = `auth-${++counter}`;
    const call = await route.prepare(p);
    const auth =
      caller.kind === 'header'
        ? caller.header
        : await server.bearer(
            caller.role,
            caller.scope === '*' ? ['*'] : [caller.scope === 'own' ? p : 'elsewhere'],
          );
    const stream = `membership-${p}`;
    const before = await server.app.eventStore.streamRevision(stream);
    const res = await send(server, call, auth);
    if (status === 0) {
      expect(res.statusCode, res.body).toBe(route.status);
      expect(await server.app.eventStore.streamRevision(stream)).toBe((before ?? -1) + 1);
      return;
    }
    expectProblem(res, status, code as string);
    if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(await server.app.eventStore.streamRevision(stream)).toBe(before);
  });
});

describe('registering a PTCE needs its id in the secretary scope', () => {
  test('an id made from the name is checked against the scope too', async () => {
    const { ptceId: _omitted, ...payload } = valCoop.register('x').payload;
    const scoped = await server.bearer('secretary', ['val-coop-bis']);
    const outside = await send(
      server,
      { method: 'POST', url: '/v1/ptces', payload: { ...payload, name: 'Autre Pôle' } },
      scoped,
    );
    expectProblem(outside, 403, 'out_of_scope');
    expect(await server.app.eventStore.streamRevision('membership-autre-pole')).toBeNull();
    const inside = await send(
      server,
      { method: 'POST', url: '/v1/ptces', payload: { ...payload, name: 'Val Coop Bis' } },
      scoped,
    );
    expect(inside.statusCode, inside.body).toBe(201);
    expect(inside.json()).toMatchObject({ ptceId: 'val-coop-bis' });
  });

  test('PTCE slug collision fix: a generated id outside a listed scope is still refused (403)', async () => {
    const { ptceId: _omitted, ...payload } = valCoop.register('x').payload;
    const scoped = await server.bearer('secretary', ['coop-nord']);
    // Only coop-nord is in scope; this name gets coop-nord-bis-<suffix>, outside it.
    const near = await send(
      server,
      { method: 'POST', url: '/v1/ptces', payload: { ...payload, name: 'Coop Nord Bis' } },
      scoped,
    );
    expectProblem(near, 403, 'out_of_scope');
    const wildcard = await server.bearer('secretary', ['*']);
    const anywhere = await send(
      server,
      { method: 'POST', url: '/v1/ptces', payload: { ...payload, name: 'Coop Nord Bis' } },
      wildcard,
    );
    expect(anywhere.statusCode, anywhere.body).toBe(201);
    expect(String(anywhere.json().ptceId)).toMatch(/^coop-nord-bis-[a-z0-9]{10}$/);
  });

  test('a token signed by another key is refused', async () => {
    const other = await startTestServer();
    try {
      const foreign = await other.bearer('admin');
      const res = await send(server, valCoop.register('foreign'), foreign);
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    } finally {
      await other.close();
    }
  });
});
