import { afterAll, beforeAll, describe } from 'vitest';
import { openEventStore } from '../src/open.ts';
import { describeEventStoreContract } from './contract.ts';

/**
 * KurrentDB runs where KURRENTDB_URL points to a server, or where testcontainers finds a Docker
 * engine. Nothing imitates it: without either, the suite is skipped and says why.
 */
async function skipReason(): Promise<string | null> {
  if (process.env.KURRENTDB_URL) return null;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return null;
  } catch {
    return 'no KURRENTDB_URL and no Docker engine';
  }
}

const reason = await skipReason();

if (reason !== null) {
  console.warn(`kurrentdb contract — skipped: ${reason}`);
  describe.skip(`kurrentdb contract — skipped: ${reason}`, () => {
    describeEventStoreContract('kurrentdb', {
      open: () => Promise.reject(new Error(reason)),
      unavailable: () => Promise.reject(new Error(reason)),
    });
  });
} else {
  let url = process.env.KURRENTDB_URL ?? '';
  let stopContainer: (() => Promise<unknown>) | undefined;

  beforeAll(async () => {
    if (url !== '') return;
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('docker.kurrent.io/kurrent-latest/kurrentdb:latest')
      .withEnvironment({
        KURRENTDB_INSECURE: 'true',
        KURRENTDB_RUN_PROJECTIONS: 'None',
        KURRENTDB_MEM_DB: 'true',
        KURRENTDB_ENABLE_ATOM_PUB_OVER_HTTP: 'true',
        KURRENTDB_MAX_APPEND_SIZE: String(4 * 1024 * 1024),
      })
      .withExposedPorts(2113)
      .withWaitStrategy(Wait.forHttp('/health/live', 2113).forStatusCode(204))
      .withStartupTimeout(120_000)
      .start();
    url = `kurrentdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`;
    stopContainer = () => container.stop();
  }, 180_000);
  afterAll(async () => {
    await stopContainer?.();
  });

  describeEventStoreContract('kurrentdb', {
    open: () => openEventStore(url),
    async unavailable() {
      const store = await openEventStore(url);
      await store.close();
      return store;
    },
    globalEventIds: false,
    leanFoldRead: false,
  });
}
