import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EventStore } from '@ptce/event-store';
import { type App, type CreateAppOptions, createApp } from '../src/app.ts';
import { type AuthConfig, type MintInput, mintToken } from '../src/auth.ts';
import { type Config, loadConfig } from '../src/config.ts';

export function tempDir(prefix = 'ptce-platform-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ DATA_DIR: tempDir(), LOG_LEVEL: 'silent', ...env });
}

export const keys = generateKeyPairSync('ed25519');

/**
 * A store whose only working method is ping: the platform never reads or writes events, it only
 * asks whether the store answers.
 */
export function pingOnlyStore(ping: () => Promise<void>): EventStore {
  const unused = () => {
    throw new Error('not used by the platform');
  };
  return {
    kind: 'sqlite',
    append: unused,
    readStream: unused,
    streamRevision: unused,
    readAll: unused,
    headPosition: unused,
    subscribe: unused,
    ping,
    close: async () => {},
  };
}

export async function testApp(options: Partial<CreateAppOptions> = {}): Promise<App> {
  return createApp({
    config: testConfig(),
    jwtPublicKey: keys.publicKey,
    logger: false,
    eventStore: pingOnlyStore(async () => {}),
    ...options,
  });
}

export function token(input: Partial<MintInput> = {}, config: AuthConfig = testConfig()): Promise<string> {
  return mintToken(
    { sub: 'alice', role: 'secretary', ptces: ['val-coop'], ttl: '1h', ...input },
    keys.privateKey,
    config,
  );
}
