import type { EventEnvelope, NewEvent } from '@ptce/events';
import pg from 'pg';
import { pollingSubscription, Waker } from './common.ts';
import { StoreUnavailableError } from './errors.ts';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  FoldableEvent,
  ForwardReadOptions,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEventText,
  Stores,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from './port.ts';
import { PostgresAppends } from './postgres/append.ts';
import { PostgresCheckpointStore } from './postgres/checkpoints.ts';
import { PgConnection, toStoreError } from './postgres/connection.ts';
import { PostgresIdempotencyStore } from './postgres/idempotency.ts';
import { PostgresNotifications } from './postgres/notify.ts';
import { PostgresPersonalKeyStore } from './postgres/personal-keys.ts';
import { PostgresRevocationStore } from './postgres/revocations.ts';
import {
  COLUMNS,
  FOLDABLE_COLUMNS,
  type FoldableRow,
  parsePosition,
  position,
  type Row,
  readHead,
  toEnvelope,
  toFoldable,
  toStoredText,
} from './postgres/rows.ts';
import { migrate } from './postgres/schema.ts';
import { isPostgresUnavailable } from './unavailable.ts';

export { streamLockKey } from './postgres/locks.ts';
export { isPostgresUnavailable, PostgresIdempotencyStore, PostgresPersonalKeyStore, PostgresRevocationStore };

export interface PostgresOptions {
  /** Pool size (default 10). */
  readonly poolSize?: number;
  /** Fallback poll for subscriptions when a notification is missed (default 500 ms). */
  readonly pollMs?: number;
}

function ignore(): void {}

/** The (transaction id, position) an exclusive `after` stands for; the start of the log when omitted. */
function afterOf(after: string | undefined): [string, string] {
  return after === undefined ? ['0', '0'] : parsePosition(after);
}

export async function openPostgresEventStore(
  url: string,
  options: PostgresOptions = {},
): Promise<EventStore> {
  return (await openPostgresStores(url, options)).events;
}

/**
 * The events, the idempotency keys and the revoked tokens on one pool, in tables the event
 * store's migrations made: the keys cost no connection of their own. Closing the event store (or
 * the three) ends the pool.
 */
export async function openPostgresStores(url: string, options: PostgresOptions = {}): Promise<Stores> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
  });
  // An idle client killed by the server emits here; the pool drops it and the next query reconnects.
  pool.on('error', () => {});
  // A client killed while checked out can emit 'error' when nobody listens (between the pool taking
  // its idle listener away and a statement being sent): seen in CI as an uncaught FATAL 57P01. The
  // statement that next uses the client fails and answers for it; the event itself can be dropped.
  pool.on('connect', (client) => client.on('error', ignore));
  try {
    await migrate(pool);
    // As the SQLite store does when it opens: a key is only otherwise removed when the same key is
    // reserved again, so without this the table would keep every key ever sent.
    await pool.query('DELETE FROM idempotency_keys WHERE expires_at < now()');
  } catch (error) {
    await pool.end().catch(() => {});
    throw toStoreError(error);
  }
  const events = new PostgresEventStore(new PgConnection(pool, url), options.pollMs ?? 500);
  return {
    events,
    idempotency: new PostgresIdempotencyStore(pool),
    revocations: new PostgresRevocationStore(pool),
    personalKeys: new PostgresPersonalKeyStore(pool),
    checkpoints: new PostgresCheckpointStore(pool),
    close: () => events.close(),
  };
}

class PostgresEventStore implements EventStore {
  readonly kind = 'postgres';
  private readonly waker = new Waker();
  private readonly subscriptions = new Set<Subscription>();
  private readonly notifications: PostgresNotifications;
  private readonly appends: PostgresAppends;

  constructor(
    private readonly connection: PgConnection,
    private readonly pollMs: number,
  ) {
    this.notifications = new PostgresNotifications(connection, this.waker);
    this.appends = new PostgresAppends(connection, () => {
      this.waker.wake();
      this.notifications.notifyOthers();
    });
  }

  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    return this.appends.append(stream, events, options);
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const limit = options.limit ?? null;
    const rows =
      options.direction === 'backwards'
        ? await this.connection.query<Row>(
            'ptce_read_backwards',
            `SELECT ${COLUMNS} FROM events WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`,
            [stream, options.fromRevision ?? 2_147_483_647, limit],
          )
        : await this.connection.query<Row>(
            'ptce_read_forwards',
            `SELECT ${COLUMNS} FROM events WHERE stream = $1 AND revision >= $2 ORDER BY revision ASC LIMIT $3`,
            [stream, options.fromRevision ?? 0, limit],
          );
    return rows.map(toEnvelope);
  }

  async readStreamText(stream: string, options: ForwardReadOptions = {}): Promise<StoredEventText[]> {
    const rows = await this.connection.query<Row>(
      'ptce_read_forwards',
      `SELECT ${COLUMNS} FROM events WHERE stream = $1 AND revision >= $2 ORDER BY revision ASC LIMIT $3`,
      [stream, options.fromRevision ?? 0, options.limit ?? null],
    );
    return rows.map(toStoredText);
  }

  async readStreamForFold(stream: string, options: ForwardReadOptions = {}): Promise<FoldableEvent[]> {
    const rows = await this.connection.query<FoldableRow>(
      'ptce_read_forwards_for_fold',
      `SELECT ${FOLDABLE_COLUMNS} FROM events WHERE stream = $1 AND revision >= $2 ORDER BY revision ASC LIMIT $3`,
      [stream, options.fromRevision ?? 0, options.limit ?? null],
    );
    return rows.map(toFoldable);
  }

  async streamRevision(stream: string): Promise<number | null> {
    return (await readHead(this.connection, stream))?.revision ?? null;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    if (options.types === undefined) return this.readAfter(options.after, options.limit ?? null);
    if (options.types.length === 0) {
      if (this.connection.closed) throw new StoreUnavailableError('postgres: the store is closed');
      return [];
    }
    const [tx, pos] = afterOf(options.after);
    const rows = await this.connection.query<Row>(
      'ptce_read_all_types',
      `SELECT ${COLUMNS} FROM events
        WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          AND type = ANY($3::text[])
        ORDER BY events.transaction_id, events.global_position LIMIT $4`,
      [tx, pos, options.types, options.limit ?? null],
    );
    return rows.map(toEnvelope);
  }

  private async readAfter(after: string | undefined, limit: number | null): Promise<EventEnvelope[]> {
    const [tx, pos] = afterOf(after);
    const rows = await this.connection.query<Row>(
      'ptce_read_all',
      `SELECT ${COLUMNS} FROM events
        WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id, events.global_position LIMIT $3`,
      [tx, pos, limit],
    );
    return rows.map(toEnvelope);
  }

  /**
   * The last row readAll would return now: under the same rule, so no row before it in log order can
   * still commit (every transaction that might is at least the oldest open one).
   */
  async headPosition(): Promise<string | null> {
    const rows = await this.connection.query<Pick<Row, 'tx_text' | 'global_position'>>(
      'ptce_head_position',
      `SELECT transaction_id::text AS tx_text, global_position::text AS global_position FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1`,
      [],
    );
    const last = rows[0];
    return last === undefined ? null : position(last.tx_text, last.global_position);
  }

  subscribe(handler: SubscriptionHandler, options?: SubscribeOptions): Subscription {
    if (!this.connection.closed) void this.notifications.listen();
    const subscription = pollingSubscription(
      (after, limit) => this.readAfter(after, limit),
      this.waker,
      this.pollMs,
      handler,
      options,
    );
    this.subscriptions.add(subscription);
    const forget = () => this.subscriptions.delete(subscription);
    subscription.done.then(forget, forget);
    return subscription;
  }

  async ping(): Promise<void> {
    await this.connection.query(undefined, 'SELECT 1', []);
  }

  async close(): Promise<void> {
    if (this.connection.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.connection.closed = true;
    await this.notifications.close();
    await this.connection.pool.end();
  }
}
