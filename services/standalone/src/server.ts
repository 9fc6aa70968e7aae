import fs from 'node:fs';
import { type EventStore, openEventStore } from '@ptce/event-store';
import { membershipService } from '@ptce/membership';
import { type App, type Config, createApp, createRedis, loadJwtKeys, type ZodPlugin } from '@ptce/platform';
import { ledgerRepository, openIdempotencyStore, type WriteSideOptions } from '@ptce/write-side';

/**
 * The service plugins mounted in the one-process server, in order. Each is the same plugin a
 * split deployment runs alone behind the gateway, so the URLs are identical in both.
 */
export const servicePlugins: readonly ZodPlugin<WriteSideOptions>[] = [membershipService];

export interface StandaloneOptions {
  /** Pino options, or false to silence logs (tests). */
  readonly logger?: boolean | Record<string, unknown>;
  /** Use this store instead of opening EVENT_STORE_URL; the caller then closes it. */
  readonly eventStore?: EventStore;
}

/**
 * Every service in one process on the configured event store (the embedded SQLite file by
 * default). Creates DATA_DIR and the signing keys on first start. Closing the app closes the
 * store it opened and the Redis connection.
 */
export async function buildStandalone(config: Config, options: StandaloneOptions = {}): Promise<App> {
  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  const keys = loadJwtKeys(config);
  const ownStore = !options.eventStore;
  const eventStore =
    options.eventStore ?? (await openEventStore(config.EVENT_STORE_URL, { dataDir: config.DATA_DIR }));
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL) : undefined;
  const idempotency = openIdempotencyStore({
    eventStoreUrl: config.EVENT_STORE_URL,
    dataDir: config.DATA_DIR,
    ...(redis ? { redis } : {}),
  });
  const release = async () => {
    await idempotency.close();
    if (ownStore) await eventStore.close();
    if (redis) redis.disconnect();
  };

  let app: App;
  try {
    app = await createApp({
      config,
      jwtPublicKey: keys.publicKey,
      eventStore,
      ...(redis ? { redis } : {}),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  } catch (err) {
    await release();
    throw err;
  }
  app.addHook('onClose', release);
  // One ledger cache for every service: each PTCE's history is folded once in this process.
  const shared: WriteSideOptions = { store: eventStore, idempotency, ledgers: ledgerRepository(eventStore) };
  for (const plugin of servicePlugins) await app.register(plugin, shared);
  return app;
}
