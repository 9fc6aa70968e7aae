import { createHash } from 'node:crypto';
import { type EventEnvelope, GENESIS_HASH, type NewEvent } from '@ptce/events';
import pg from 'pg';
import {
  assertAppendable,
  checkExpected,
  formatPosition,
  type Guard,
  guardsOf,
  type Metadata,
  metadataOf,
  nowInstant,
  POSITION_WIDTH,
  pollingSubscription,
  replayOrRefuse,
  type StreamHead,
  sealEvent,
  Waker,
} from './common.ts';
import { RevisionConflictError, StoreUnavailableError } from './errors.ts';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from './port.ts';
import { isPostgresUnavailable } from './unavailable.ts';

export { isPostgresUnavailable };

export interface PostgresOptions {
  /** Pool size (default 10). */
  readonly poolSize?: number;
  /** Fallback poll for subscriptions when a notification is missed (default 500 ms). */
  readonly pollMs?: number;
}

const CHANNEL = 'ptce_events';
const NOTIFY_COALESCE_MS = 5;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     global_position bigserial PRIMARY KEY,
     transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
     stream text NOT NULL,
     revision integer NOT NULL,
     event_id text NOT NULL CONSTRAINT events_event_id UNIQUE,
     type text NOT NULL,
     schema_version integer NOT NULL,
     ptce_id text NOT NULL,
     occurred_at text NOT NULL,
     recorded_at text NOT NULL,
     recorded_by text NOT NULL,
     data text NOT NULL,
     metadata text,
     prev_hash text NOT NULL,
     hash text NOT NULL,
     CONSTRAINT events_stream_revision UNIQUE (stream, revision)
   );
   CREATE INDEX events_log_order ON events (transaction_id, global_position);`,
];

interface Row {
  global_position: string;
  tx_text: string;
  stream: string;
  revision: number;
  event_id: string;
  type: string;
  schema_version: number;
  ptce_id: string;
  occurred_at: string;
  recorded_at: string;
  recorded_by: string;
  data: string;
  metadata: string | null;
  prev_hash: string;
  hash: string;
}

// Aliased apart from the column: ORDER BY would otherwise sort by the text ("10214" < "9655").
const COLUMNS = `global_position, transaction_id::text AS tx_text, stream, revision, event_id, type,
  schema_version, ptce_id, occurred_at, recorded_at, recorded_by, data, metadata, prev_hash, hash`;

const INSERT_COLUMNS = `stream, revision, event_id, type, schema_version, ptce_id, occurred_at, recorded_at,
  recorded_by, data, metadata, prev_hash, hash`;

const UNNEST_ROWS = `unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])`;

const RETURNING =
  'event_id, global_position::text AS global_position, transaction_id::text AS transaction_id';

/**
 * Every append holds its stream's advisory lock until it commits, and an append with
 * `alsoExpected` also holds those streams' locks, shared (appends that only check a stream need not
 * wait for each other), from before it reads their heads until it commits: none of them can move
 * between that check and the commit. Two int4 halves of SHA-256: the two-key form is a lock space
 * apart from single-bigint advisory locks (the migration's), and every process computes the same key.
 */
export function streamLockKey(stream: string): readonly [number, number] {
  const digest = createHash('sha256').update(stream).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

/**
 * BEGIN, then the locks one statement each, in key order whatever the streams: two appends
 * locking overlapping streams then wait for each other instead of deadlocking. One simple-protocol
 * round trip; the keys are integers we computed, never caller text.
 */
function lockStatements(stream: string, guards: readonly Guard[]): string {
  const locks = new Map<string, { key: readonly [number, number]; exclusive: boolean }>();
  for (const [name, exclusive] of [
    [stream, true] as const,
    ...guards.map((g) => [g.stream, false] as const),
  ]) {
    const key = streamLockKey(name);
    const id = `${key[0]},${key[1]}`;
    // Two streams on one key (a hash collision) only share a lock; the stronger mode covers both.
    const known = locks.get(id);
    locks.set(id, { key, exclusive: exclusive || (known?.exclusive ?? false) });
  }
  const sorted = [...locks.values()].sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1]);
  return [
    'BEGIN',
    ...sorted.map(
      ({ key, exclusive }) =>
        `SELECT pg_advisory_xact_lock${exclusive ? '' : '_shared'}((${key[0]})::int, (${key[1]})::int)`,
    ),
  ].join('; ');
}

/**
 * Runs after the locks, in a statement of its own: under READ COMMITTED its snapshot is taken
 * now, so it sees every append that held one of those locks before us. One statement reads the
 * guarded heads and inserts only if none moved; otherwise it answers the first stream that moved
 * (in name order, as the other adapters) with its head.
 */
const INSERT_GUARDED = `WITH guards AS MATERIALIZED (
    SELECT g.stream, g.expected, g.ord, h.revision AS actual
      FROM unnest($14::text[], $15::int[]) WITH ORDINALITY AS g(stream, expected, ord)
      LEFT JOIN LATERAL (
        SELECT e.revision FROM events e WHERE e.stream = g.stream ORDER BY e.revision DESC LIMIT 1
      ) h ON true
  ), moved AS (
    SELECT stream, actual, ord FROM guards WHERE actual IS DISTINCT FROM expected
  ), inserted AS (
    INSERT INTO events (${INSERT_COLUMNS})
    SELECT * FROM ${UNNEST_ROWS} WHERE NOT EXISTS (SELECT FROM moved)
    RETURNING ${RETURNING}
  )
  SELECT event_id, global_position, transaction_id, NULL::text AS moved_stream, NULL::int AS moved_actual
    FROM inserted
  UNION ALL
  (SELECT NULL, NULL, NULL, stream, actual FROM moved ORDER BY ord LIMIT 1)`;

/**
 * Inside a transaction holding the locks: inserts the sealed events unless a guarded stream
 * moved, in one statement, and ends the transaction (COMMIT, or ROLLBACK with the conflict).
 */
async function insertCheckedAndEnd(
  client: pg.PoolClient,
  sealed: readonly Omit<EventEnvelope, 'position'>[],
  guards: readonly Guard[],
): Promise<InsertedRow[] | RevisionConflictError> {
  const { rows } = await client.query<GuardedRow>({
    name: 'ptce_insert_guarded',
    text: INSERT_GUARDED,
    values: [
      ...columnsOf(sealed),
      guards.map((g) => g.stream),
      guards.map((g) => (g.expected === 'no_stream' ? null : g.expected)),
    ],
  });
  const moved = rows.find((r) => r.moved_stream !== null);
  if (moved !== undefined) {
    await client.query('ROLLBACK');
    const guard = guards.find((g) => g.stream === moved.moved_stream)!;
    return new RevisionConflictError(guard.stream, guard.expected, moved.moved_actual);
  }
  await client.query('COMMIT');
  return rows as InsertedRow[];
}

function ignore(): void {}

const HEAD = 'SELECT revision, hash FROM events WHERE stream = $1 ORDER BY revision DESC LIMIT 1';

/** The events sealed after `head`: revisions and the hash chain are computed here, not in SQL. */
function sealAfter(
  stream: string,
  head: StreamHead | null,
  events: readonly NewEvent[],
): Omit<EventEnvelope, 'position'>[] {
  const recordedAt = nowInstant();
  let revision = head === null ? -1 : head.revision;
  let prevHash = head === null ? GENESIS_HASH : head.hash;
  return events.map((event) => {
    revision++;
    const s = sealEvent(stream, revision, recordedAt, prevHash, event);
    prevHash = s.hash;
    return s;
  });
}

interface InsertedRow {
  event_id: string;
  global_position: string;
  transaction_id: string;
}

interface GuardedRow {
  event_id: string | null;
  global_position: string | null;
  transaction_id: string | null;
  moved_stream: string | null;
  moved_actual: number | null;
}

/** The 13 column arrays of the insert, in INSERT_COLUMNS order. */
function columnsOf(sealed: readonly Omit<EventEnvelope, 'position'>[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 13 }, () => []);
  for (const s of sealed) {
    const meta = metadataOf(s);
    const values = [
      s.stream,
      s.revision,
      s.eventId,
      s.type,
      s.schemaVersion,
      s.ptceId,
      s.occurredAt,
      s.recordedAt,
      s.recordedBy,
      JSON.stringify(s.data),
      Object.keys(meta).length === 0 ? null : JSON.stringify(meta),
      s.prevHash,
      s.hash,
    ];
    values.forEach((v, i) => {
      columns[i]!.push(v);
    });
  }
  return columns;
}

/**
 * Log order is (transaction id, insert order), not the bigserial alone: sequence values are taken
 * at insert but transactions commit out of order, so a reader polling `position > checkpoint`
 * could step over an event committed late. Only rows of transactions older than every open one
 * are read, and the position carries both numbers, fixed width, so it still compares as a string.
 */
function position(transactionId: string, globalPosition: string): string {
  return formatPosition(BigInt(transactionId), BigInt(globalPosition));
}

function parsePosition(value: string): [string, string] {
  if (!/^\d+$/.test(value) || value.length !== 2 * POSITION_WIDTH) {
    throw new TypeError(`not a postgres event-store position: ${value}`);
  }
  return [BigInt(value.slice(0, POSITION_WIDTH)).toString(), BigInt(value.slice(POSITION_WIDTH)).toString()];
}

function toEnvelope(row: Row): EventEnvelope {
  const meta = row.metadata === null ? {} : (JSON.parse(row.metadata) as Metadata);
  return {
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    ptceId: row.ptce_id,
    occurredAt: row.occurred_at,
    recordedBy: row.recorded_by,
    data: JSON.parse(row.data) as Record<string, unknown>,
    ...meta,
    stream: row.stream,
    revision: row.revision,
    position: position(row.tx_text, row.global_position),
    recordedAt: row.recorded_at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !isPostgresUnavailable(error)) return error;
  return new StoreUnavailableError(`postgres: ${(error as Error).message}`, { cause: error });
}

export async function openPostgresEventStore(
  url: string,
  options: PostgresOptions = {},
): Promise<EventStore> {
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
  const store = new PostgresEventStore(pool, url, options.pollMs ?? 500);
  try {
    await store.migrate();
  } catch (error) {
    await pool.end().catch(() => {});
    throw toStoreError(error);
  }
  return store;
}

class PostgresEventStore implements EventStore {
  readonly kind = 'postgres';
  private readonly waker = new Waker();
  private readonly heads = new Map<string, StreamHead>();
  /** Appends of this store under way, by stream. */
  private readonly inFlight = new Map<string, number>();
  private readonly subscriptions = new Set<Subscription>();
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;
  private notifying: Promise<void> | null = null;
  private notifyAgain = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly pollMs: number,
  ) {}

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Several processes may start at once on a fresh database.
      await client.query('SELECT pg_advisory_xact_lock(727300001)');
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number | null }>(
        'SELECT max(version) AS version FROM schema_migrations',
      );
      const current = rows[0]?.version ?? 0;
      if (current > MIGRATIONS.length) {
        throw new Error(`postgres: schema version ${current} is newer than this code (${MIGRATIONS.length})`);
      }
      for (let version = current + 1; version <= MIGRATIONS.length; version++) {
        await client.query(MIGRATIONS[version - 1]!);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private async query<R extends pg.QueryResultRow>(
    name: string | undefined,
    text: string,
    values: unknown[],
  ): Promise<R[]> {
    if (this.closed) throw new StoreUnavailableError('postgres: the store is closed');
    try {
      const result = await this.pool.query<R>(name === undefined ? { text, values } : { name, text, values });
      return result.rows;
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private async readHead(stream: string): Promise<StreamHead | null> {
    const rows = await this.query<StreamHead>('ptce_head', HEAD, [stream]);
    return rows[0] ?? null;
  }

  private async storedWithIds(ids: readonly string[]): Promise<EventEnvelope[]> {
    const rows = await this.query<Row>(
      'ptce_by_ids',
      `SELECT ${COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY stream, revision`,
      [ids],
    );
    return rows.map(toEnvelope);
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    assertAppendable(stream, events);
    const guards = guardsOf(stream, options.alsoExpected);
    this.inFlight.set(stream, (this.inFlight.get(stream) ?? 0) + 1);
    try {
      return await this.appendOnce(stream, events, options.expectedRevision, guards);
    } catch (error) {
      // A connection lost mid-append leaves us not knowing whether it committed. Appends are
      // idempotent on event ids, so asking again gives the true answer either way.
      if (!(error instanceof StoreUnavailableError) || this.closed) throw error;
      return await this.appendOnce(stream, events, options.expectedRevision, guards);
    } finally {
      const left = this.inFlight.get(stream)! - 1;
      if (left === 0) this.inFlight.delete(stream);
      else this.inFlight.set(stream, left);
    }
  }

  private async appendOnce(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
    guards: readonly Guard[],
  ): Promise<AppendResult> {
    const ids = events.map((e) => e.eventId);
    if (expected === 'any' && this.inFlight.get(stream)! > 1) {
      // Another append of ours to this stream is under way: the head we know is about to be
      // taken, and an optimistic insert on it would only wait for that one and fail.
      return this.appendLockedAnswer(stream, events, ids, guards);
    }
    let head = this.heads.get(stream) ?? null;
    let headFromCache = head !== null;
    for (;;) {
      if (head === null && !headFromCache) head = await this.readHead(stream);
      try {
        checkExpected(stream, expected, head);
      } catch (error) {
        if (headFromCache) {
          headFromCache = false;
          head = null;
          continue;
        }
        const existing = await this.storedWithIds(ids);
        if (existing.length > 0) return replayOrRefuse(stream, events, existing);
        throw error;
      }
      const sealed = sealAfter(stream, head, events);
      let written: InsertedRow[] | RevisionConflictError;
      try {
        written =
          guards.length === 0
            ? await this.insert(stream, sealed)
            : await this.insertGuarded(stream, sealed, guards);
      } catch (error) {
        const constraint = (error as { constraint?: unknown }).constraint;
        if ((error as { code?: unknown }).code !== '23505') throw toStoreError(error);
        this.heads.delete(stream);
        if (constraint === 'events_event_id') {
          return replayOrRefuse(stream, events, await this.storedWithIds(ids));
        }
        if (expected !== 'any') {
          const actual = await this.readHead(stream);
          const existing = await this.storedWithIds(ids);
          if (existing.length > 0) return replayOrRefuse(stream, events, existing);
          throw new RevisionConflictError(stream, expected, actual?.revision ?? null);
        }
        // Another writer took the revision first. Re-reading the head and trying again could lose
        // the same race again behind every other waiter (measured: five attempts an append, twelve
        // writers on one stream); reading the head under the lock cannot.
        return this.appendLockedAnswer(stream, events, ids, guards);
      }
      if (written instanceof RevisionConflictError) {
        // A replay answers as the first time even though the guarded streams moved since.
        const existing = await this.storedWithIds(ids);
        if (existing.length > 0) return replayOrRefuse(stream, events, existing);
        throw written;
      }
      return this.appended(stream, sealed, written);
    }
  }

  private async appendLockedAnswer(
    stream: string,
    events: readonly NewEvent[],
    ids: readonly string[],
    guards: readonly Guard[],
  ): Promise<AppendResult> {
    const locked = await this.appendLocked(stream, events, guards);
    if (locked.kind === 'inserted') return this.appended(stream, locked.sealed, locked.written);
    const existing = await this.storedWithIds(ids);
    if (locked.kind === 'duplicate') return replayOrRefuse(stream, events, existing);
    // A replay answers as the first time even though the guarded streams moved since.
    if (existing.length > 0) return replayOrRefuse(stream, events, existing);
    throw locked.conflict;
  }

  /** A client for a transaction of several statements (every pool client listens for 'error': see the pool). */
  private async checkOut(): Promise<pg.PoolClient> {
    if (this.closed) throw new StoreUnavailableError('postgres: the store is closed');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error);
    }
    return client;
  }

  private appended(
    stream: string,
    sealed: readonly Omit<EventEnvelope, 'position'>[],
    written: readonly InsertedRow[],
  ): AppendResult {
    const byId = new Map(written.map((r) => [r.event_id, position(r.transaction_id, r.global_position)]));
    const stored = sealed.map((s) => ({ ...s, position: byId.get(s.eventId)! }));
    const last = stored[stored.length - 1]!;
    this.rememberHead(stream, { revision: last.revision, hash: last.hash });
    this.waker.wake();
    this.notifyOthers();
    return { events: stored, nextRevision: last.revision, position: last.position };
  }

  /**
   * An `any` append that lost a race, or would: BEGIN and the locks, then the head read in a
   * statement of its own (READ COMMITTED: its snapshot is taken after the lock, so it sees every
   * append that held the lock before us), the events sealed on it and inserted (with the guards
   * checked, as insertGuarded), then COMMIT. No other append to the stream can commit in between,
   * so this one cannot lose. Four round trips with the lock held, hence never on an uncontended
   * stream. As insertGuarded, the transaction id is only assigned at the insert, after the lock
   * waits, so waiting holds back no reader's `pg_snapshot_xmin`.
   */
  private async appendLocked(
    stream: string,
    events: readonly NewEvent[],
    guards: readonly Guard[],
  ): Promise<
    | { kind: 'inserted'; sealed: Omit<EventEnvelope, 'position'>[]; written: InsertedRow[] }
    | { kind: 'conflict'; conflict: RevisionConflictError }
    | { kind: 'duplicate' }
  > {
    const client = await this.checkOut();
    let broken: Error | undefined;
    try {
      await client.query(lockStatements(stream, guards));
      const { rows: heads } = await client.query<StreamHead>({
        name: 'ptce_head',
        text: HEAD,
        values: [stream],
      });
      const sealed = sealAfter(stream, heads[0] ?? null, events);
      const written = await insertCheckedAndEnd(client, sealed, guards);
      return written instanceof RevisionConflictError
        ? { kind: 'conflict', conflict: written }
        : { kind: 'inserted', sealed, written };
    } catch (error) {
      // As insertGuarded: never hand the pool a connection left mid-transaction.
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      const { code, constraint } = error as { code?: unknown; constraint?: unknown };
      if (code === '23505' && constraint === 'events_event_id') return { kind: 'duplicate' };
      throw toStoreError(error);
    } finally {
      client.release(broken);
    }
  }

  /**
   * The guarded append: BEGIN and the locks, then the heads checked and the rows inserted in one
   * statement, then COMMIT; three round trips where a plain append takes one. The transaction id is
   * only assigned at the insert, after the lock waits, so an append waiting for a lock holds back no
   * reader's `pg_snapshot_xmin`. Answers the conflict, not thrown, so that the caller first looks
   * for a replay.
   */
  private async insertGuarded(
    stream: string,
    sealed: readonly Omit<EventEnvelope, 'position'>[],
    guards: readonly Guard[],
  ): Promise<InsertedRow[] | RevisionConflictError> {
    const client = await this.checkOut();
    let broken: Error | undefined;
    try {
      await client.query(lockStatements(stream, guards));
      return await insertCheckedAndEnd(client, sealed, guards);
    } catch (error) {
      // A failed statement leaves the transaction aborted; a connection that cannot even roll
      // back is dropped from the pool rather than handed to the next append mid-transaction.
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw toStoreError(error);
    } finally {
      client.release(broken);
    }
  }

  /**
   * Wakes subscribers in other processes. Not a trigger in the append's transaction: NOTIFY takes
   * a cluster-wide lock at commit, which serialised concurrent appends (measured 2.3× slower at
   * 16 writers). Here at most one NOTIFY per process is in flight; appends meanwhile coalesce into
   * the next one. A lost notification only delays subscribers to their poll.
   */
  private notifyOthers(): void {
    if (this.notifying !== null) {
      this.notifyAgain = true;
      return;
    }
    // A short pause lets a burst of appends share one notification.
    this.notifying = new Promise((resolve) => setTimeout(resolve, NOTIFY_COALESCE_MS))
      .then(() => this.pool.query(`SELECT pg_notify('${CHANNEL}', '')`))
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        this.notifying = null;
        if (this.notifyAgain && !this.closed) {
          this.notifyAgain = false;
          this.notifyOthers();
        }
      });
  }

  private rememberHead(stream: string, head: StreamHead): void {
    if (this.heads.size > 10_000) this.heads.clear();
    this.heads.set(stream, head);
  }

  /**
   * A plain append: one autocommit statement that takes its stream's lock (an InitPlan, evaluated
   * once before the first row is inserted) and holds it until it commits, so it serialises with
   * the guarded appends that check this stream. It reads no other head, so the lock being taken
   * after the statement's snapshot does not matter: (stream, revision) is unique.
   */
  private async insert(
    stream: string,
    sealed: readonly Omit<EventEnvelope, 'position'>[],
  ): Promise<InsertedRow[]> {
    const columns = columnsOf(sealed);
    const [high, low] = streamLockKey(stream);
    const locked = 'WHERE (SELECT pg_advisory_xact_lock($14::int, $15::int)) IS NOT NULL';
    if (sealed.length === 1) {
      return this.query(
        'ptce_insert_one',
        `INSERT INTO events (${INSERT_COLUMNS})
         SELECT $1::text, $2::int, $3::text, $4::text, $5::int, $6::text, $7::text, $8::text, $9::text, $10::text,
           $11::text, $12::text, $13::text ${locked}
         RETURNING ${RETURNING}`,
        [...columns.map((c) => c[0]), high, low],
      );
    }
    // One statement: atomic without BEGIN/COMMIT round trips, and the same prepared plan for any batch size.
    return this.query(
      'ptce_insert',
      `INSERT INTO events (${INSERT_COLUMNS}) SELECT * FROM ${UNNEST_ROWS} ${locked} RETURNING ${RETURNING}`,
      [...columns, high, low],
    );
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const limit = options.limit ?? null;
    const rows =
      options.direction === 'backwards'
        ? await this.query<Row>(
            'ptce_read_backwards',
            `SELECT ${COLUMNS} FROM events WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`,
            [stream, options.fromRevision ?? 2_147_483_647, limit],
          )
        : await this.query<Row>(
            'ptce_read_forwards',
            `SELECT ${COLUMNS} FROM events WHERE stream = $1 AND revision >= $2 ORDER BY revision ASC LIMIT $3`,
            [stream, options.fromRevision ?? 0, limit],
          );
    return rows.map(toEnvelope);
  }

  async streamRevision(stream: string): Promise<number | null> {
    return (await this.readHead(stream))?.revision ?? null;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    return this.readAfter(options.after, options.limit ?? null);
  }

  private async readAfter(after: string | undefined, limit: number | null): Promise<EventEnvelope[]> {
    const [tx, pos] = after === undefined ? ['0', '0'] : parsePosition(after);
    const rows = await this.query<Row>(
      'ptce_read_all',
      `SELECT ${COLUMNS} FROM events
        WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id, events.global_position LIMIT $3`,
      [tx, pos, limit],
    );
    return rows.map(toEnvelope);
  }

  private async listen(): Promise<void> {
    if (this.listening !== null) return this.listening;
    const client = new pg.Client({ connectionString: this.url });
    this.listening = (async () => {
      client.on('notification', () => this.waker.wake());
      // A lost listener only slows subscribers down to the poll; the next subscribe reconnects.
      client.on('error', () => {
        if (this.listener === client) {
          this.listener = null;
          this.listening = null;
        }
        client.end().catch(() => {});
      });
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
    })().catch(() => {
      this.listening = null;
      client.end().catch(() => {});
    });
    return this.listening;
  }

  subscribe(handler: SubscriptionHandler, options?: SubscribeOptions): Subscription {
    if (!this.closed) void this.listen();
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
    await this.query(undefined, 'SELECT 1', []);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.closed = true;
    while (this.notifying !== null) await this.notifying;
    await this.listening;
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }
}
