import fs from 'node:fs';
import {
  type CheckpointStore,
  type EventStore,
  type IdempotencyStore,
  openStores,
  type RevocationStore,
  type Stores,
} from '@ptce/event-store';
import type { FastifyPluginOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { type App, createApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { installGateway } from './gateway.ts';
import { loadJwtKeys } from './keys.ts';
import type { OpenApiTag } from './openapi.ts';
import { loadKeyEncryptionKey, PersonalData } from './personal-data.ts';
import { createRedis } from './redis.ts';
import { installGracefulShutdown } from './shutdown.ts';

/** What the host opened for the process, once, whatever services it mounts. */
export interface HostContext {
  readonly config: Config;
  readonly eventStore: EventStore;
  /** Beside the events (see `openStores`). */
  readonly idempotency: IdempotencyStore;
  /** The revoked tokens, which the host also reads itself to refuse them. */
  readonly revocations: RevocationStore;
  /** Natural persons' personal fields: sealed on write, opened on read, erased on request. */
  readonly personalData: PersonalData;
  /** The signed checkpoints of the PTCE's hash chains (see `openStores`). */
  readonly checkpoints: CheckpointStore;
  /** Undefined when REDIS_URL is not configured. */
  readonly redis: Redis | undefined;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  /**
   * The one object under `key` in this process, made by the first module that asks for it:
   * modules that must share state in one process (the write services' fold cache, so each PTCE's
   * history is folded once) ask for it under the same key; split apart, each process has its own.
   * Lives as long as the host.
   */
  shared<T>(key: string, make: () => T): T;
}

/**
 * A service as a host mounts it: its Fastify plugin, and the plugin's options, built from what
 * the host opened. The same module answers the same URLs mounted alone or beside the others.
 * `plugin` is declared as a method because method parameters are compared both ways: a list
 * of modules whose plugins take different options then type-checks as `ServiceModule[]`.
 */
export interface ServiceModule<Options extends FastifyPluginOptions = FastifyPluginOptions> {
  readonly name: string;
  /** The tags its routes are grouped under, declared at the top of the OpenAPI document. */
  readonly tags?: readonly OpenApiTag[];
  plugin(app: App, options: Options): Promise<void>;
  options(host: HostContext): Options;
}

export interface HostOptions {
  /** Mounted in this order: every service in the standalone server, one in a split deployment. */
  readonly services: readonly ServiceModule[];
  /** Pino options, or false to silence logs (tests). */
  readonly logger?: boolean | Record<string, unknown>;
  /** Used instead of opening EVENT_STORE_URL; the caller then closes them. */
  readonly stores?: Stores;
  /** OpenAPI `info.title`. */
  readonly title?: string;
  /** Between two reads of the revoked tokens (tests shorten it). */
  readonly revocationRefreshMs?: number;
  /** Default `Date.now`. */
  readonly clock?: () => number;
}

/**
 * The services on the configured stores, in one Fastify app. Creates DATA_DIR and the signing
 * keys on first start. Closing the app closes what the host opened: the stores, Redis.
 */
export async function buildHost(config: Config, options: HostOptions): Promise<App> {
  const names = options.services.map((service) => service.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`service ${twice} is mounted twice`);
  const mountedAndUpstream = config.UPSTREAMS.find((upstream) => names.includes(upstream.name));
  if (mountedAndUpstream !== undefined) {
    throw new ConfigError([
      {
        variable: 'UPSTREAMS',
        message: `${mountedAndUpstream.name} is mounted by this process: name only the other services`,
      },
    ]);
  }

  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  const keys = loadJwtKeys(config);
  const clock = options.clock ?? Date.now;
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL) : undefined;
  let stores: Stores;
  try {
    stores =
      options.stores ??
      (await openStores(config.EVENT_STORE_URL, {
        dataDir: config.DATA_DIR,
        now: clock,
        ...(redis ? { redis } : {}),
      }));
  } catch (err) {
    redis?.disconnect();
    throw err;
  }
  const release = async () => {
    if (!options.stores) await stores.close();
    redis?.disconnect();
  };
  let personalData: PersonalData;
  try {
    const kek = loadKeyEncryptionKey({ key: config.PERSONAL_DATA_KEY, file: config.PERSONAL_DATA_KEY_FILE });
    personalData = await PersonalData.open(stores.personalKeys, kek);
  } catch (err) {
    await release();
    throw err;
  }

  let app: App;
  try {
    app = await createApp({
      config,
      jwtPublicKey: keys.publicKey,
      eventStore: stores.events,
      revocations: stores.revocations,
      ...(options.revocationRefreshMs === undefined
        ? {}
        : { revocationRefreshMs: options.revocationRefreshMs }),
      ...(redis ? { redis } : {}),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.title ? { title: options.title } : {}),
      tags: options.services.flatMap((service) => service.tags ?? []),
    });
  } catch (err) {
    await release();
    throw err;
  }
  app.addHook('onClose', release);

  const sharedObjects = new Map<string, unknown>();
  const host: HostContext = {
    config,
    eventStore: stores.events,
    idempotency: stores.idempotency,
    revocations: stores.revocations,
    personalData,
    checkpoints: stores.checkpoints,
    redis,
    clock,
    shared<T>(key: string, make: () => T): T {
      if (!sharedObjects.has(key)) sharedObjects.set(key, make());
      return sharedObjects.get(key) as T;
    },
  };
  try {
    for (const service of options.services) await app.register(service.plugin, service.options(host));
    if (config.UPSTREAMS.length > 0) installGateway(app, { own: names, upstreams: config.UPSTREAMS });
  } catch (err) {
    // A module's options may refuse the configuration (a bad STAGE_RULES file): close what was opened.
    await app.close();
    throw err;
  }
  return app;
}

/**
 * The body of every `main.ts`: configuration, host, graceful shutdown, one start-up line.
 * `exit` is the entry point's `process.exit`: library code never ends the process itself.
 */
export async function runHost(
  options: HostOptions & { readonly name: string; readonly exit: (code: number) => never },
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
  let app: App;
  try {
    app = await buildHost(config, options);
  } catch (err) {
    // A module's own settings (read from files the configuration names) fail as the variables do.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return exit(2);
  }
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
