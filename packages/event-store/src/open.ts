import { join } from 'node:path';
import type { EventStore } from './port.ts';

export interface OpenEventStoreOptions {
  /** Where a `sqlite:` URL with an empty path puts its file (`<dataDir>/ptce.db`). */
  readonly dataDir?: string;
  /** SQLite durability; FULL (default) survives power loss. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
}

/**
 * `sqlite:./data/ptce.db`, `sqlite::memory:`, `postgres://…`/`postgresql://…`,
 * `esdb://…`/`kurrentdb://…` (the latter as a KurrentDB connection string).
 */
export async function openEventStore(url: string, options: OpenEventStoreOptions = {}): Promise<EventStore> {
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  switch (scheme) {
    case 'sqlite:': {
      const { openSqliteEventStore } = await import('./sqlite.ts');
      let path = url.slice('sqlite:'.length).replace(/^\/\//, '');
      if (path === '') path = join(options.dataDir ?? './data', 'ptce.db');
      return openSqliteEventStore(path, { synchronous: options.synchronous });
    }
    case 'postgres:':
    case 'postgresql:': {
      const { openPostgresEventStore } = await import('./postgres.ts');
      return openPostgresEventStore(url, { poolSize: options.poolSize });
    }
    case 'esdb:':
    case 'esdb+discover:':
    case 'kurrentdb:':
    case 'kurrentdb+discover:':
    case 'kurrent:':
    case 'kurrent+discover:': {
      const { openKurrentEventStore } = await import('./kurrentdb.ts');
      return openKurrentEventStore(url);
    }
    default:
      throw new Error(
        `unknown event store URL scheme in "${scheme || url}": use sqlite:, postgres://, esdb:// or kurrentdb://`,
      );
  }
}
