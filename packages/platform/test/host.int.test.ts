import fs from 'node:fs';
import path from 'node:path';
import { openStores, StoreUnavailableError } from '@ptce/event-store';
import { afterAll, describe, expect, test } from 'vitest';
import { type App, zodPlugin } from '../src/app.ts';
import { buildHost, type HostContext, type ServiceModule } from '../src/host.ts';
import { tempDir, testConfig } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
function config() {
  const dataDir = path.join(tempDir('ptce-host-'), 'data');
  dirs.push(path.dirname(dataDir));
  return testConfig({ DATA_DIR: dataDir });
}

interface Counter {
  readonly counts: number[];
}

/** A module that records what the host gave it and answers GET /<name>. */
function probe(
  name: string,
  seen: HostContext[],
  made: { count: number },
): ServiceModule<{ counter: Counter }> {
  return {
    name,
    plugin: zodPlugin<{ counter: Counter }>(async (app, options) => {
      app.get(`/${name}`, { config: { public: true } }, async () => ({ counts: options.counter.counts }));
      options.counter.counts.push(options.counter.counts.length);
    }),
    options(host) {
      seen.push(host);
      return {
        counter: host.shared('probe:counter', () => {
          made.count++;
          return { counts: [] };
        }),
      };
    },
  };
}

describe('buildHost', () => {
  test('mounts every module in order, each given the stores it opened and one shared object per key', async () => {
    const seen: HostContext[] = [];
    const made = { count: 0 };
    const clock = () => Date.parse('2024-05-01T00:00:00Z');
    const app: App = await buildHost(config(), {
      logger: false,
      clock,
      services: [probe('first', seen, made), probe('second', seen, made)],
    });
    try {
      await app.ready();
      expect(made.count).toBe(1);
      expect(seen).toHaveLength(2);
      expect(seen[0]?.shared('probe:counter', () => ({ counts: [9] }))).toEqual({ counts: [0, 1] });
      expect(seen[0]?.eventStore).toBe(app.eventStore);
      expect(seen[0]?.eventStore.kind).toBe('sqlite');
      expect(seen[0]?.clock).toBe(clock);
      expect(seen[0]?.redis).toBeUndefined();
      expect((await app.inject({ url: '/second' })).json()).toEqual({ counts: [0, 1] });
      // The idempotency and data keys go beside the events: one SQLite file in DATA_DIR, nothing
      // else but the signing keys and the personal data key-encryption key, readable by its owner alone.
      expect(
        fs
          .readdirSync(app.config.DATA_DIR)
          .filter((f) => !f.startsWith('ptce.db'))
          .sort(),
      ).toEqual(['keys', 'personal-data.key']);
      expect(fs.statSync(app.config.PERSONAL_DATA_KEY_FILE).mode & 0o777).toBe(0o600);
    } finally {
      await app.close();
    }
    // Closing the app closed what the host opened.
    await expect(seen[0]?.eventStore.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(seen[0]?.idempotency.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  test('stores given by the caller are used, and left open', async () => {
    const stores = await openStores('sqlite::memory:');
    const seen: HostContext[] = [];
    const app = await buildHost(config(), {
      logger: false,
      stores,
      services: [probe('p', seen, { count: 0 })],
    });
    await app.close();
    expect(seen[0]?.idempotency).toBe(stores.idempotency);
    expect(seen[0]?.revocations).toBe(stores.revocations);
    await expect(stores.events.ping()).resolves.toBeUndefined();
    await stores.close();
  });

  test('refuses two modules of one name', async () => {
    const made = { count: 0 };
    await expect(
      buildHost(config(), { logger: false, services: [probe('same', [], made), probe('same', [], made)] }),
    ).rejects.toThrow('service same is mounted twice');
  });
});
