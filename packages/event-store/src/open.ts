import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { EventStore, Stores } from './port.ts';
import { RedisCheckpointStore } from './redis/checkpoints.ts';
import { RedisIdempotencyStore } from './redis/idempotency.ts';
import { RedisPersonalKeyStore } from './redis/personal-keys.ts';
import { RedisRevocationStore } from './redis/revocations.ts';
import type { RevocationStore } from './revocations.ts';

export interface OpenEventStoreOptions {
  /**
   * Where a `sqlite:` URL with an empty path puts its file (`<dataDir>/ptce.db`), and where an
   * earlier version kept the keys and revoked tokens of a SQLite store (`<dataDir>/idempotency.db`,
   * copied once into the events' file by its migration).
   */
  readonly dataDir?: string;
  /** SQLite durability; FULL (default) survives power loss. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
}

export interface OpenStoresOptions extends OpenEventStoreOptions {
  /**
   * KurrentDB has no table for the idempotency keys and the revoked tokens: they go to this
   * Redis when given (it must persist), else to `<dataDir>/idempotency.db`. Unused by the others.
   * Not closed by the stores.
   */
  readonly redis?: Redis;
  /** The idempotency keys' clock (tests move it). */
  readonly now?: () => number;
}

type Backend = 'sqlite' | 'postgres' | 'kurrentdb';

function backendOf(url: string): Backend {
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  switch (scheme) {
    case 'sqlite:':
      return 'sqlite';
    case 'postgres:':
    case 'postgresql:':
      return 'postgres';
    case 'esdb:':
    case 'esdb+discover:':
    case 'kurrentdb:':
    case 'kurrentdb+discover:':
    case 'kurrent:':
    case 'kurrent+discover:':
      return 'kurrentdb';
    default:
      throw new Error(
        `unknown event store URL scheme in "${scheme || url}": use sqlite:, postgres://, esdb:// or kurrentdb://`,
      );
  }
}

/**
 * Whether the keys and revoked tokens of a deployment on `eventStoreUrl` live in Redis: only on
 * KurrentDB, which has no table for them, and only when Redis is configured. For a caller that
 * must open the Redis connection before `openStores`/`openRevocationStore` (the CLI).
 */
export function keysLiveInRedis(eventStoreUrl: string, redisConfigured: boolean): boolean {
  return redisConfigured && backendOf(eventStoreUrl) === 'kurrentdb';
}

/**
 * Whether a second connection opened at `url` reaches the same store (another thread's, say): all
 * but an in-memory SQLite database, which only the connection that made it sees.
 */
export function sharedByConnections(eventStoreUrl: string): boolean {
  return backendOf(eventStoreUrl) !== 'sqlite' || sqlitePath(eventStoreUrl, {}) !== ':memory:';
}

const dataDirOf = (options: OpenEventStoreOptions) => options.dataDir ?? './data';

function sqlitePath(url: string, options: OpenEventStoreOptions): string {
  const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
  return path === '' ? join(dataDirOf(options), 'ptce.db') : path;
}

/** Only a store that knows its data directory looks there for what an earlier version left. */
function sqliteOptions(options: OpenEventStoreOptions) {
  return {
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    ...(options.dataDir === undefined ? {} : { legacyKeysFile: join(options.dataDir, 'idempotency.db') }),
  };
}

/**
 * `sqlite:./data/ptce.db`, `sqlite::memory:`, `postgres://…`/`postgresql://…`,
 * `esdb://…`/`kurrentdb://…` (the latter as a KurrentDB connection string).
 */
export async function openEventStore(url: string, options: OpenEventStoreOptions = {}): Promise<EventStore> {
  switch (backendOf(url)) {
    case 'sqlite': {
      const { openSqliteEventStore } = await import('./sqlite.ts');
      return openSqliteEventStore(sqlitePath(url, options), sqliteOptions(options));
    }
    case 'postgres': {
      const { openPostgresEventStore } = await import('./postgres.ts');
      return openPostgresEventStore(url, { poolSize: options.poolSize });
    }
    case 'kurrentdb': {
      const { openKurrentEventStore } = await import('./kurrentdb.ts');
      return openKurrentEventStore(url);
    }
  }
}

/** Where a KurrentDB deployment keeps its keys and revoked tokens. */
async function keysBesideKurrent(options: OpenStoresOptions): Promise<Omit<Stores, 'events'>> {
  if (options.redis) {
    return {
      idempotency: new RedisIdempotencyStore(options.redis),
      revocations: new RedisRevocationStore(options.redis),
      personalKeys: new RedisPersonalKeyStore(options.redis),
      checkpoints: new RedisCheckpointStore(options.redis),
      close: async () => {},
    };
  }
  const { openSqliteKeyFile } = await import('./sqlite.ts');
  return openSqliteKeyFile(
    join(dataDirOf(options), 'idempotency.db'),
    options.now ? { now: options.now } : {},
  );
}

/**
 * The event store of `url` with the idempotency keys and the revoked tokens beside it (see
 * `Stores`): on SQLite one connection to one file, on PostgreSQL one pool, whose migrations made
 * every table. An upgrade from the version that kept a SQLite store's keys and revocations in
 * `<dataDir>/idempotency.db` copies the live ones into the events' file once (see
 * `SqliteDatabaseOptions.legacyKeysFile`).
 */
export async function openStores(url: string, options: OpenStoresOptions = {}): Promise<Stores> {
  switch (backendOf(url)) {
    case 'sqlite': {
      const { openSqliteStores } = await import('./sqlite.ts');
      return openSqliteStores(sqlitePath(url, options), {
        ...sqliteOptions(options),
        ...(options.now ? { now: options.now } : {}),
      });
    }
    case 'postgres': {
      const { openPostgresStores } = await import('./postgres.ts');
      return openPostgresStores(url, { poolSize: options.poolSize });
    }
    case 'kurrentdb': {
      const { openKurrentEventStore } = await import('./kurrentdb.ts');
      const events = await openKurrentEventStore(url);
      let keys: Omit<Stores, 'events'>;
      try {
        keys = await keysBesideKurrent(options);
      } catch (error) {
        await events.close();
        throw error;
      }
      return {
        events,
        ...keys,
        async close() {
          await events.close();
          await keys.close();
        },
      };
    }
  }
}

/**
 * The revoked tokens alone, where the deployment's services read them (`openStores`), for the
 * `ptce token revoke` command: on SQLite and PostgreSQL it opens the events' database (migrating
 * it like a service would), but never connects to KurrentDB, which holds none of them.
 */
export async function openRevocationStore(options: {
  readonly eventStoreUrl: string;
  readonly dataDir: string;
  readonly redis?: Redis;
}): Promise<RevocationStore> {
  const opened =
    backendOf(options.eventStoreUrl) === 'kurrentdb'
      ? await keysBesideKurrent(options)
      : // One refresh every few seconds and a rare revoke: two connections are plenty.
        await openStores(options.eventStoreUrl, { dataDir: options.dataDir, poolSize: 2 });
  return {
    revoke: (token) => opened.revocations.revoke(token),
    list: (now) => opened.revocations.list(now),
    close: () => opened.close(),
  };
}
