import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type App, type Config, loadConfig, loadJwtKeys, mintToken, type Role } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';

export interface TestServer {
  readonly app: App;
  readonly config: Config;
  /** `Authorization` header value for a token of that role and scope. */
  bearer(role: Role, ptces?: readonly string[], sub?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The standalone server on a throw-away data directory (an in-memory store unless the
 * environment given names another), for `app.inject` tests of the services.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    EVENT_STORE_URL: 'sqlite::memory:',
    RATE_LIMIT_MAX: '100000',
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
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
