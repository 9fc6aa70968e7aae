import fs from 'node:fs';
import { openStores, type Stores } from '@ptce/event-store';
import {
  type App,
  type Config,
  ConfigError,
  createApp,
  createRedis,
  installGracefulShutdown,
  loadConfig,
  loadJwtKeys,
  type ZodPlugin,
} from '@ptce/platform';
import { ledgerRepository, type WriteSideOptions } from './ptce.ts';

export interface ServerOptions {
  /** The service plugins to mount: all of them in the standalone server, one in a split deployment. */
  readonly plugins: readonly ZodPlugin<WriteSideOptions>[];
  /** Pino options, or false to silence logs (tests). */
  readonly logger?: boolean | Record<string, unknown>;
  /** Use these stores instead of opening EVENT_STORE_URL; the caller then closes them. */
  readonly stores?: Stores;
  readonly title?: string;
  /** Between two reads of the revoked tokens (tests shorten it). */
  readonly revocationRefreshMs?: number;
}

/**
 * The service plugins on the configured event store. Creates DATA_DIR and the signing keys on
 * first start. Closing the app closes what it opened: the stores, Redis.
 * The same plugins answer the same URLs whether they run together or each on its own.
 */
export async function buildServer(config: Config, options: ServerOptions): Promise<App> {
  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  const keys = loadJwtKeys(config);
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL) : undefined;
  let stores: Stores;
  try {
    stores =
      options.stores ??
      (await openStores(config.EVENT_STORE_URL, { dataDir: config.DATA_DIR, ...(redis ? { redis } : {}) }));
  } catch (err) {
    redis?.disconnect();
    throw err;
  }
  const { events: eventStore, idempotency, revocations } = stores;
  const release = async () => {
    if (!options.stores) await stores.close();
    if (redis) redis.disconnect();
  };

  let app: App;
  try {
    app = await createApp({
      config,
      jwtPublicKey: keys.publicKey,
      eventStore,
      revocations,
      ...(options.revocationRefreshMs === undefined
        ? {}
        : { revocationRefreshMs: options.revocationRefreshMs }),
      ...(redis ? { redis } : {}),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.title ? { title: options.title } : {}),
    });
  } catch (err) {
    await release();
    throw err;
  }
  app.addHook('onClose', release);
  // One ledger cache for every plugin of the process: each PTCE's history is folded once.
  const shared: WriteSideOptions = {
    store: eventStore,
    idempotency,
    ledgers: ledgerRepository(eventStore, { maxEvents: config.LEDGER_CACHE_EVENTS }),
  };
  for (const plugin of options.plugins) await app.register(plugin, shared);
  return app;
}

/**
 * The body of every `main.ts`: configuration, server, graceful shutdown, one start-up line.
 * `exit` is the entry point's `process.exit`: library code never ends the process itself.
 */
export async function runServer(
  options: ServerOptions & { readonly name: string; readonly exit: (code: number) => never },
): Promise<void> {
  const { exit } = options;
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return exit(2);
  }
  const app = await buildServer(config, options);
  installGracefulShutdown(app, { exit });
  try {
    await app.listen({
      host: config.HOST,
      port: config.PORT,
      listenTextResolver: (address) =>
        `${options.name} listening on ${address} (docs: ${address}/docs) — mint a token: pnpm --silent ptce token --role secretary --ptce <id>`,
    });
  } catch (err) {
    app.log.fatal({ err }, 'could not listen');
    await app.close();
    exit(1);
  }
}
