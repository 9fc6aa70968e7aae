import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { openRevocationStore, type RevocationStore, type RevokedToken } from '@ptce/event-store';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import type { App } from '../src/app.ts';
import { RevocationList } from '../src/revocations.ts';
import { keys, tempDir, testApp, token } from './helpers.ts';

const REFRESH_MS = 100;
const jtiOf = (jwt: string): string =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).jti as string;

/** The revoked tokens of a SQLite deployment whose events are in `file` (`:memory:`: none). */
const sqliteStore = (file: string) =>
  openRevocationStore({ eventStoreUrl: `sqlite:${file}`, dataDir: path.dirname(file) });

/** A store that can be taken down and brought back, over a real SQLite one. */
function flakyStore(inner: RevocationStore) {
  let down = false;
  const store: RevocationStore = {
    revoke: (token) => inner.revoke(token),
    list: (now) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : inner.list(now)),
    close: () => inner.close(),
  };
  return {
    store,
    setDown(value: boolean) {
      down = value;
    },
  };
}

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

describe('revoked tokens are refused by a running app within the refresh delay (hostile-test defect 9B)', () => {
  const opened: { app: App; store: RevocationStore }[] = [];
  afterEach(async () => {
    for (const { app, store } of opened.splice(0)) {
      await app.close();
      await store.close();
    }
  });

  async function appWith(store: RevocationStore): Promise<App> {
    const app = await testApp({ revocations: store, revocationRefreshMs: REFRESH_MS });
    await app.ready();
    opened.push({ app, store });
    return app;
  }

  const me = (app: App, jwt: string) =>
    app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${jwt}` } });
  const revokeNow = (store: RevocationStore, jti: string, extra: Partial<RevokedToken> = {}) =>
    store.revoke({ jti, expiresAt: Date.now() + 3_600_000, revokedAt: Date.now(), ...extra });

  test('a token accepted (and remembered by the verifier) is refused once revoked, within the delay', async () => {
    const file = path.join(tempDir(), 'ptce.db');
    const store = await sqliteStore(file);
    const app = await appWith(store);
    const jwt = await token();
    const other = await token();
    expect((await me(app, jwt)).statusCode).toBe(200);
    expect((await me(app, jwt)).statusCode).toBe(200);

    // Written by another connection, as `ptce token revoke` does from its own process.
    const cli = await sqliteStore(file);
    await revokeNow(cli, jtiOf(jwt), { reason: 'laptop stolen' });
    await cli.close();

    const waited = await eventually(async () => (await me(app, jwt)).statusCode === 401, 10 * REFRESH_MS);
    expect(waited).toBeLessThanOrEqual(10 * REFRESH_MS);
    const res = await me(app, jwt);
    expect(res.json()).toMatchObject({
      code: 'unauthorized',
      detail: expect.stringContaining('token revoked'),
    });
    expect((await me(app, other)).statusCode).toBe(200);
  });

  test('a token revoked before the app starts is refused from the first request', async () => {
    const store = await sqliteStore(':memory:');
    const jwt = await token();
    await revokeNow(store, jtiOf(jwt));
    const app = await appWith(store);
    expect((await me(app, jwt)).statusCode).toBe(401);
  });

  test('a token without jti (minted before revocation existed) stays accepted', async () => {
    const store = await sqliteStore(':memory:');
    const app = await appWith(store);
    const now = Math.floor(Date.now() / 1000);
    const old = await new SignJWT({ role: 'secretary', ptces: ['val-coop'] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setSubject('alice')
      .setIssuer('ptce-ledger')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(keys.privateKey);
    expect((await me(app, old)).statusCode).toBe(200);
  });

  test('a store that cannot be read: the last list stays in force, /health/ready says degraded, then recovers', async () => {
    const flaky = flakyStore(await sqliteStore(':memory:'));
    const revoked = await token();
    await revokeNow(flaky.store, jtiOf(revoked));
    const app = await appWith(flaky.store);
    expect((await app.inject({ url: '/health/ready' })).json()).toEqual({
      status: 'up',
      checks: { eventStore: 'up', revocations: 'up' },
    });

    flaky.setDown(true);
    await eventually(
      async () => (await app.inject({ url: '/health/ready' })).statusCode === 503,
      10 * REFRESH_MS,
    );
    const ready = await app.inject({ url: '/health/ready' });
    expect(ready.json()).toMatchObject({
      status: 'degraded',
      down: ['revocations'],
      checks: { eventStore: 'up', revocations: 'down' },
    });
    expect(ready.body).not.toContain('ECONNREFUSED');
    // Fail-safe for what is known: the revoked token is still refused, the others still served.
    expect((await me(app, revoked)).statusCode).toBe(401);
    expect((await me(app, await token())).statusCode).toBe(200);

    flaky.setDown(false);
    await eventually(
      async () => (await app.inject({ url: '/health/ready' })).statusCode === 200,
      10 * REFRESH_MS,
    );
  });

  test('without a revocation store, readiness does not mention revocations', async () => {
    const app = await testApp();
    const res = await app.inject({ url: '/health/ready' });
    expect(res.json()).toEqual({ status: 'up', checks: { eventStore: 'up' } });
    await app.close();
  });
});

describe('RevocationList', () => {
  test('a read that hangs is not piled up, and readiness notices it after two missed refreshes', async () => {
    let now = 1_000_000;
    let reads = 0;
    let hang = false;
    const store: RevocationStore = {
      revoke: async () => {},
      list: async () => {
        reads += 1;
        if (hang) await new Promise(() => {});
        return [{ jti: 'j', expiresAt: now + 1_000, revokedAt: now }];
      },
      close: async () => {},
    };
    const list = new RevocationList(store, { refreshMs: 15_000, now: () => now });
    await expect(list.check()).rejects.toThrow(/not refreshed/);
    await list.refresh();
    expect(list.has('j')).toBe(true);
    await expect(list.check()).resolves.toBeUndefined();
    hang = true;
    void list.refresh();
    void list.refresh();
    expect(reads).toBe(2);
    now += 44_000;
    await expect(list.check()).resolves.toBeUndefined();
    now += 2_000;
    await expect(list.check()).rejects.toThrow(/not refreshed recently/);
    expect(list.has('j')).toBe(true);
  });

  test('the list read replaces the previous one: an entry gone from the store is forgotten', async () => {
    let entries: RevokedToken[] = [{ jti: randomUUID(), expiresAt: Date.now() + 1_000, revokedAt: 0 }];
    const first = entries[0]?.jti as string;
    const list = new RevocationList({
      revoke: async () => {},
      list: async () => entries,
      close: async () => {},
    });
    await list.refresh();
    expect(list.has(first)).toBe(true);
    entries = [];
    await list.refresh();
    expect(list.has(first)).toBe(false);
  });
});
