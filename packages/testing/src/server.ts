import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type App, type Config, loadConfig, loadJwtKeys, mintToken, type Role } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import { createTempDatabase } from './postgres.ts';

export interface TestServer {
  readonly app: App;
  readonly config: Config;
  /** `Authorization` header value for a token of that role and scope. */
  bearer(role: Role, ptces?: readonly string[], sub?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The store the service tests run on when their environment names none: an in-memory SQLite
 * store, or under `PTCE_TEST_STORE=postgres` (the test run's second project) a PostgreSQL
 * database of the server's own, dropped when it closes — so every write-side test passes on both.
 */
async function defaultStore(): Promise<{ url: string; drop(): Promise<void> }> {
  if (process.env.PTCE_TEST_STORE !== 'postgres') return { url: 'sqlite::memory:', drop: async () => {} };
  const database = await createTempDatabase('ptce_svc');
  return { url: database.url, drop: () => database.drop() };
}

/**
 * The standalone server on a throw-away data directory (an in-memory store unless the
 * environment given names another), for `app.inject` tests of the services.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-test-'));
  const store = env.EVENT_STORE_URL
    ? { url: env.EVENT_STORE_URL, drop: async () => {} }
    : await defaultStore();
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    EVENT_STORE_URL: store.url,
    RATE_LIMIT_MAX: '100000',
    // The second project runs the services with the projector, so both ways of answering a
    // current read (a read model, the folded log) pass the same tests.
    ...(process.env.PTCE_TEST_PROJECTOR ? { PROJECTOR: process.env.PTCE_TEST_PROJECTOR } : {}),
    ...env,
  });
  const app = await buildStandalone(config, { logger: false });
  await app.ready();
  const keys = loadJwtKeys(config);
  return {
    app,
    config,
    async bearer(role, ptces = ['*'], sub = `${role}-test`) {
      if (!keys.privateKey) throw new Error('the test server has no private key to mint tokens');
      const token = await mintToken({ sub, role, ptces: [...ptces], ttl: '1h' }, keys.privateKey, config);
      return `Bearer ${token}`;
    },
    async close() {
      await app.close();
      await store.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
