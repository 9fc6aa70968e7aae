import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createPtceClient } from '@ptce/client';
import { RedisRevocationStore } from '@ptce/event-store';
import { membershipModule } from '@ptce/membership';
import { type App, buildHost, createRedis, loadConfig } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import { createTempDatabase, type TempDatabase } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { injectFetch } from './http.ts';

const exec = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, '../../packages/cli/src/main.ts');
const REFRESH_MS = 200;

/** `pnpm --silent ptce …` as an operator runs it: its own process, the deployment's environment. */
async function ptce(env: Record<string, string>, ...argv: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, ['--import', 'tsx', CLI, ...argv], {
    env: { ...process.env, ...env },
  });
  return stdout.trim();
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function describeDeployment(name: string, environment: () => Promise<Record<string, string>>) {
  describe(`${name}: a token revoked with \`ptce token revoke\` is refused by every service (hostile-test defect 9B)`, () => {
    let env: Record<string, string>;
    let apps: App[] = [];
    beforeAll(async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-revoke-e2e-'));
      dirs.push(dataDir);
      env = { DATA_DIR: dataDir, ...(await environment()) };
      const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
      // The standalone server and one service on its own, as each service's main.ts starts it.
      apps = [
        await buildStandalone(config, { logger: false, revocationRefreshMs: REFRESH_MS }),
        await buildHost(config, {
          services: [membershipModule],
          logger: false,
          revocationRefreshMs: REFRESH_MS,
        }),
      ];
      for (const app of apps) await app.ready();
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
    });

    const clientOf = (app: App, token?: string) =>
      createPtceClient({ baseUrl: 'http://in-process', token, fetch: injectFetch(app) });
    const statuses = (jwt: string) =>
      Promise.all(apps.map(async (app) => (await clientOf(app, jwt).GET('/v1/me')).response.status));

    test('accepted, revoked by the CLI, then refused everywhere within the refresh delay', async () => {
      const jwt = await ptce(env, 'token', '--role', 'secretary', '--ptce', 'val-coop');
      const other = await ptce(env, 'token', '--role', 'secretary', '--ptce', 'val-coop');
      expect(await statuses(jwt)).toEqual([200, 200]);

      expect(await ptce(env, 'token', 'revoke', jwt, '--reason', 'laptop stolen')).toMatch(/^revoked /);
      const started = Date.now();
      while ((await statuses(jwt)).some((status) => status !== 401)) {
        // Four refreshes: far below the minute promised, far above a refresh.
        expect(Date.now() - started).toBeLessThan(4 * REFRESH_MS + 1_000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const service = apps[1];
      if (!service) throw new Error('no service app');
      const { error } = await clientOf(service, jwt).GET('/v1/me');
      expect(error).toMatchObject({ code: 'unauthorized', detail: expect.stringContaining('token revoked') });
      expect(await statuses(other)).toEqual([200, 200]);
      for (const app of apps) {
        // The document gives this answer no schema yet, so the client types it as nothing: cast it.
        const { data } = await clientOf(app).GET('/health/ready');
        expect((data as unknown as { checks: Record<string, string> }).checks.revocations).toBe('up');
      }
    });

    test('revoked by jti alone, the same', async () => {
      const jwt = await ptce(env, 'token', '--role', 'auditor', '--ptce', '*');
      expect(await statuses(jwt)).toEqual([200, 200]);
      const jti = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).jti as string;
      await ptce(env, 'token', 'revoke', jti);
      const started = Date.now();
      while ((await statuses(jwt)).some((status) => status !== 401)) {
        expect(Date.now() - started).toBeLessThan(4 * REFRESH_MS + 1_000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  });
}

describeDeployment('the embedded SQLite file', async () => ({}));

let database: TempDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});
describeDeployment('PostgreSQL', async () => {
  database = await createTempDatabase('ptce_revoke');
  return { EVENT_STORE_URL: database.url };
});

// The run's global setup found no Redis (outside CI, where that fails the run instead).
const noRedis = process.env.PTCE_TEST_REDIS === 'absent';
describe.skipIf(noRedis)(
  noRedis
    ? 'KurrentDB with Redis: ptce token revoke writes to Redis — skipped: no Redis answers at REDIS_URL'
    : 'KurrentDB with Redis: ptce token revoke writes to Redis, beside the idempotency keys (hostile-test defect 9B)',
  () => {
    // Database 15, and only this test's own jti removed afterwards: the CLI has no key prefix.
    const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    url.pathname = '/15';
    const jti = `e2e-${process.pid}-${Date.now()}`;
    const redis = createRedis(url.toString());
    afterAll(async () => {
      await redis.zrem('ptce:revoked:jti', jti);
      await redis.hdel('ptce:revoked:details', jti);
      redis.disconnect();
    });

    test('the jti is listed by the Redis store the services read', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-revoke-kdb-'));
      dirs.push(dataDir);
      // Nothing listens on port 1: revoking never needs the event store itself.
      const env = {
        DATA_DIR: dataDir,
        EVENT_STORE_URL: 'kurrentdb://127.0.0.1:1?tls=false',
        REDIS_URL: url.toString(),
      };
      await ptce(env, 'token', 'revoke', jti, '--reason', 'kurrent');
      await redis.connect();
      const listed = await new RedisRevocationStore(redis).list(Date.now());
      expect(listed.find((entry) => entry.jti === jti)).toMatchObject({ jti, reason: 'kurrent' });
      expect(fs.existsSync(path.join(dataDir, 'idempotency.db'))).toBe(false);
    });
  },
);
