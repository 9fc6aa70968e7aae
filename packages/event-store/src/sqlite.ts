import { type EventEnvelope, GENESIS_HASH, type NewEvent } from '@ptce/events';
import type Database from 'better-sqlite3';
import {
  assertAppendable,
  checkExpected,
  formatPosition,
  type Guard,
  guardsOf,
  type Metadata,
  metadataOf,
  nowInstant,
  pollingSubscription,
  replayOrRefuse,
  type StreamHead,
  sealEvent,
  Waker,
} from './common.ts';
import { AppendChainBrokenError, StoreUnavailableError } from './errors.ts';
import type {
  AppendChain,
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedRevision,
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
import { SqliteCheckpointStore } from './sqlite/checkpoints.ts';
import { SqliteIdempotencyStore } from './sqlite/idempotency.ts';
import { SqlitePersonalKeyStore } from './sqlite/personal-keys.ts';
import { SqliteRevocationStore } from './sqlite/revocations.ts';
import { openSqliteDatabase, type SqliteDatabaseOptions } from './sqlite/schema.ts';
import { isSqliteUnavailable } from './unavailable.ts';

export { isSqliteUnavailable, SqliteIdempotencyStore, SqlitePersonalKeyStore, SqliteRevocationStore };

interface PendingAppend {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
  readonly guards: readonly Guard[];
  readonly chain: AppendChain | undefined;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

type Settled =
  | { readonly ok: true; readonly result: AppendResult }
  | { readonly ok: false; readonly error: unknown };

export interface SqliteOptions extends Pick<SqliteDatabaseOptions, 'synchronous' | 'legacyKeysFile'> {
  /** How often a subscription looks for events written by another process. */
  readonly pollMs?: number;
}

export interface SqliteStoresOptions extends SqliteOptions {
  /** The idempotency keys' clock (tests move it). */
  readonly now?: () => number;
}

/**
 * The columns every read of whole events selects, in the order of `EventRowValues`. Rows come as
 * arrays: naming each row's fourteen columns again cost more than the rest of reading it.
 */
const EVENT_COLUMNS = `global_position, stream, revision, event_id, type, schema_version, ptce_id,
  occurred_at, recorded_at, recorded_by, data, metadata, prev_hash, hash`;

/** A row of `EVENT_COLUMNS`. */
type EventRowValues = [
  globalPosition: number,
  stream: string,
  revision: number,
  eventId: string,
  type: string,
  schemaVersion: number,
  ptceId: string,
  occurredAt: string,
  recordedAt: string,
  recordedBy: string,
  data: string,
  metadata: string | null,
  prevHash: string,
  hash: string,
];

function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !isSqliteUnavailable(error)) return error;
  if (error instanceof TypeError)
    return new StoreUnavailableError('sqlite: the store is closed', { cause: error });
  return new StoreUnavailableError(`sqlite: ${(error as Error).message}`, { cause: error });
}

/** The columns of `forwardsAsStored`: those of `EVENT_COLUMNS`, the data null unless vouched for. */
type StoredRowValues = { [K in keyof EventRowValues]: K extends '10' ? string | null : EventRowValues[K] };

/** The row as stored, its data vouched for by the read's own check (see forwardsAsStored). */
function toStoredText(row: StoredRowValues): StoredEventText {
  const data = row[10];
  // As readStream fails on the same row, where JSON.parse meets it.
  if (data === null)
    throw new SyntaxError(`sqlite: the data of event ${row[3]} (${row[1]}@${row[2]}) is no JSON`);
  // The table is not STRICT: a row rewritten with text here would be written into an export's
  // line as it is, and could add a field to it.
  if (!Number.isSafeInteger(row[2]) || !Number.isSafeInteger(row[5])) {
    throw new TypeError(
      `sqlite: the revision or schema version of event ${row[3]} (${row[1]}) is no integer`,
    );
  }
  return {
    eventId: row[3],
    type: row[4],
    schemaVersion: row[5],
    ptceId: row[6],
    occurredAt: row[7],
    recordedBy: row[9],
    dataJson: data,
    dataVouched: true,
    metadataJson: row[11],
    stream: row[1],
    revision: row[2],
    position: formatPosition(row[0]),
    recordedAt: row[8],
    prevHash: row[12],
    hash: row[13],
  };
}

/** A row of `FOLDABLE_COLUMNS`. */
type FoldableRowValues = [
  globalPosition: number,
  stream: string,
  revision: number,
  eventId: string,
  type: string,
  schemaVersion: number,
  ptceId: string,
  occurredAt: string,
  recordedAt: string,
  data: string,
];

const FOLDABLE_COLUMNS = `global_position, stream, revision, event_id, type, schema_version, ptce_id,
  occurred_at, recorded_at, data`;

function toFoldable(row: FoldableRowValues): FoldableEvent {
  return {
    eventId: row[3],
    type: row[4],
    schemaVersion: row[5],
    ptceId: row[6],
    occurredAt: row[7],
    data: JSON.parse(row[9]) as Record<string, unknown>,
    position: formatPosition(row[0]),
    recordedAt: row[8],
    stream: row[1],
    revision: row[2],
  };
}

export function toEnvelope(row: EventRowValues): EventEnvelope {
  const metadata = row[11];
  const meta = metadata === null ? {} : (JSON.parse(metadata) as Metadata);
  return {
    eventId: row[3],
    type: row[4],
    schemaVersion: row[5],
    ptceId: row[6],
    occurredAt: row[7],
    recordedBy: row[9],
    data: JSON.parse(row[10]) as Record<string, unknown>,
    ...meta,
    stream: row[1],
    revision: row[2],
    position: formatPosition(row[0]),
    recordedAt: row[8],
    prevHash: row[12],
    hash: row[13],
  };
}

function openDatabase(path: string, options: SqliteDatabaseOptions): Database.Database {
  try {
    return openSqliteDatabase(path, options);
  } catch (error) {
    throw toStoreError(error);
  }
}

/** `path` is a file path or `:memory:`. The parent directory is created when missing. */
export function openSqliteEventStore(path: string, options: SqliteOptions = {}): EventStore {
  return new SqliteEventStore(openDatabase(path, options), options.pollMs ?? 200);
}

/**
 * The events, the idempotency keys and the revoked tokens on one connection to one file: the
 * keys commit with the same durability as the events and survive exactly as they do. Closing
 * the event store (or the three) closes the connection.
 */
export function openSqliteStores(path: string, options: SqliteStoresOptions = {}): Stores {
  const db = openDatabase(path, options);
  const events = new SqliteEventStore(db, options.pollMs ?? 200);
  try {
    return {
      events,
      idempotency: new SqliteIdempotencyStore(db, options.now),
      revocations: new SqliteRevocationStore(db),
      personalKeys: new SqlitePersonalKeyStore(db),
      checkpoints: new SqliteCheckpointStore(db),
      close: () => events.close(),
    };
  } catch (error) {
    db.close();
    throw toStoreError(error);
  }
}

/**
 * The keys and the revoked tokens alone in a file of their own, for a KurrentDB deployment
 * without Redis (KurrentDB has no table for them).
 */
export function openSqliteKeyFile(
  path: string,
  options: Pick<SqliteStoresOptions, 'now'> = {},
): Omit<Stores, 'events'> {
  const db = openDatabase(path, options);
  try {
    return {
      idempotency: new SqliteIdempotencyStore(db, options.now),
      revocations: new SqliteRevocationStore(db),
      personalKeys: new SqlitePersonalKeyStore(db),
      checkpoints: new SqliteCheckpointStore(db),
      close: async () => {
        db.close();
      },
    };
  } catch (error) {
    db.close();
    throw toStoreError(error);
  }
}

class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  private readonly waker = new Waker();
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;
  private readonly byId: Database.Statement<[string], EventRowValues>;
  private readonly head: Database.Statement<[string], StreamHead>;
  private readonly insert: Database.Statement<unknown[]>;
  private readonly forwards: Database.Statement<[string, number, number], EventRowValues>;
  private readonly forwardsAsStored: Database.Statement<[string, number, number], StoredRowValues>;
  private readonly forwardsForFold: Database.Statement<[string, number, number], FoldableRowValues>;
  private readonly backwards: Database.Statement<[string, number, number], EventRowValues>;
  private readonly all: Database.Statement<[number, number], EventRowValues>;
  private readonly allOfTypes: Database.Statement<[number, string, number], EventRowValues>;
  private readonly last: Database.Statement<[], { position: number | null }>;
  private readonly dataVersion: Database.Statement<[], number>;
  /**
   * The head as last read, and the data_version it was read at (see headPosition). One object
   * changed in place: a wrapper made with Object.create(store) shares it, where an assignment to
   * `this` would give the wrapper a copy of its own.
   */
  private readonly knownHead: { version: number; position: string | null } = { version: -1, position: null };
  /** The head question every caller of this turn shares (see headPosition). */
  private headAsked: Promise<string | null> | null = null;
  private readonly appendBatch: (batch: readonly PendingAppend[]) => Settled[];
  private pending: PendingAppend[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly pollMs: number,
  ) {
    this.byId = db
      .prepare<[string], EventRowValues>(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = ?`)
      .raw(true);
    this.head = db.prepare(
      'SELECT revision, hash FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1',
    );
    this.insert = db.prepare(
      `INSERT INTO events (stream, revision, event_id, type, schema_version, ptce_id, occurred_at, recorded_at,
         recorded_by, data, metadata, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.forwards = db
      .prepare<[string, number, number], EventRowValues>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?`,
      )
      .raw(true);
    this.backwards = db
      .prepare<[string, number, number], EventRowValues>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
      )
      .raw(true);
    // The data as text, vouched for: null unless it is JSON as RFC 8259 has it, and holds no NUL
    // byte (SQLite's JSON parser stops at one, so `{"n":1}\0,"forged":true}` is valid to it): a row
    // rewritten behind the server's back cannot slip fields into an export's line (one with line
    // breaks between tokens is written again by whoever puts it in a line). Text, not the bytes
    // as a BLOB: a Buffer per row cost more to make than decoding the UTF-8, and the whole line
    // is then encoded in one go.
    this.forwardsAsStored = db
      .prepare<[string, number, number], StoredRowValues>(
        `SELECT global_position, stream, revision, event_id, type, schema_version, ptce_id, occurred_at,
         recorded_at, recorded_by,
         CASE WHEN json_valid(data) AND instr(CAST(data AS BLOB), x'00') = 0 THEN CAST(data AS TEXT) END AS data,
         metadata, prev_hash, hash
       FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?`,
      )
      .raw(true);
    this.forwardsForFold = db
      .prepare<[string, number, number], FoldableRowValues>(
        `SELECT ${FOLDABLE_COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?`,
      )
      .raw(true);
    this.all = db
      .prepare<[number, number], EventRowValues>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE global_position > ? ORDER BY global_position ASC LIMIT ?`,
      )
      .raw(true);
    // The types as one JSON array: a statement prepared once, whatever their number.
    this.allOfTypes = db
      .prepare<[number, string, number], EventRowValues>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE global_position > ? AND type IN (SELECT value FROM json_each(?))
        ORDER BY global_position ASC LIMIT ?`,
      )
      .raw(true);
    this.last = db.prepare('SELECT max(global_position) AS position FROM events');
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    // Called inside the batch's transaction, better-sqlite3 runs this one as a SAVEPOINT: an
    // append refused (revision conflict, duplicate id) rolls back alone, the others commit.
    const one = db.transaction((item: PendingAppend) =>
      this.appendInTransaction(item.stream, item.events, item.expected, item.guards),
    );
    const batch = db.transaction((items: readonly PendingAppend[]): Settled[] =>
      items.map((item) => {
        if (item.chain?.broken) return { ok: false, error: new AppendChainBrokenError(item.stream) };
        try {
          return { ok: true, result: one(item) };
        } catch (error) {
          if (item.chain) item.chain.broken = true;
          // SQLITE_FULL, SQLITE_IOERR or RAISE(ROLLBACK) may make SQLite roll back the whole
          // transaction by itself. Going on would run the next item as a transaction of its own
          // that commits, while the outer COMMIT fails and every caller is told nothing was
          // written: a retry without a key would then duplicate it. Abort the whole batch.
          if (!db.inTransaction) {
            throw new StoreUnavailableError(
              `sqlite: the batch transaction was rolled back (${(error as Error).message})`,
              { cause: error },
            );
          }
          return { ok: false, error };
        }
      }),
    );
    // BEGIN IMMEDIATE takes the write lock before reading the heads, so no other process can
    // slip an event in between the checks and the inserts.
    this.appendBatch = (items) => batch.immediate(items);
  }

  /**
   * Group commit: the appends requested during one turn of the event loop are written in one
   * transaction, so they share one fsync (synchronous=FULL) instead of paying one each. Each is
   * acknowledged only once that transaction has committed.
   */
  private flush(): void {
    const items = this.pending;
    this.pending = [];
    let settled: Settled[];
    try {
      if (this.closed) throw new StoreUnavailableError('sqlite: the store is closed');
      settled = this.appendBatch(items);
      // This connection's own commits leave data_version as it was: the head is read again.
      this.knownHead.version = -1;
    } catch (error) {
      const failure = toStoreError(error);
      for (const item of items) item.reject(failure);
      return;
    }
    settled.forEach((outcome, i) => {
      const item = items[i]!;
      if (outcome.ok) item.resolve(outcome.result);
      else item.reject(toStoreError(outcome.error));
    });
    this.waker.wake();
  }

  private appendInTransaction(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
    guards: readonly Guard[],
  ): AppendResult {
    const existing: EventEnvelope[] = [];
    for (const event of events) {
      const row = this.byId.get(event.eventId);
      if (row !== undefined) existing.push(toEnvelope(row));
    }
    if (existing.length > 0) return replayOrRefuse(stream, events, existing);
    const head = this.head.get(stream) ?? null;
    checkExpected(stream, expected, head);
    // Under the batch's write lock, so no other process can move these streams before the commit;
    // earlier appends of the same batch are visible here, as they will be once committed.
    for (const guard of guards)
      checkExpected(guard.stream, guard.expected, this.head.get(guard.stream) ?? null);
    const recordedAt = nowInstant();
    let revision = head === null ? -1 : head.revision;
    let prevHash = head === null ? GENESIS_HASH : head.hash;
    const stored: EventEnvelope[] = [];
    for (const event of events) {
      revision++;
      const sealed = sealEvent(stream, revision, recordedAt, prevHash, event);
      const meta = metadataOf(event);
      const info = this.insert.run(
        stream,
        revision,
        sealed.eventId,
        sealed.type,
        sealed.schemaVersion,
        sealed.ptceId,
        sealed.occurredAt,
        recordedAt,
        sealed.recordedBy,
        JSON.stringify(sealed.data),
        Object.keys(meta).length === 0 ? null : JSON.stringify(meta),
        prevHash,
        sealed.hash,
      );
      stored.push({ ...sealed, position: formatPosition(info.lastInsertRowid) });
      prevHash = sealed.hash;
    }
    return { events: stored, nextRevision: revision, position: stored[stored.length - 1]!.position };
  }

  private guard<T>(work: () => T): T {
    if (this.closed) throw new StoreUnavailableError('sqlite: the store is closed');
    try {
      return work();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    assertAppendable(stream, events);
    const guards = guardsOf(stream, options.alsoExpected);
    if (this.closed) throw new StoreUnavailableError('sqlite: the store is closed');
    return new Promise<AppendResult>((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({
        stream,
        events,
        expected: options.expectedRevision,
        guards,
        chain: options.chain,
        resolve,
        reject,
      });
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const limit = options.limit ?? -1;
    return this.guard(() => {
      const rows =
        options.direction === 'backwards'
          ? this.backwards.all(stream, options.fromRevision ?? Number.MAX_SAFE_INTEGER, limit)
          : this.forwards.all(stream, options.fromRevision ?? 0, limit);
      return rows.map(toEnvelope);
    });
  }

  async readStreamText(stream: string, options: ForwardReadOptions = {}): Promise<StoredEventText[]> {
    return this.guard(() =>
      this.forwardsAsStored.all(stream, options.fromRevision ?? 0, options.limit ?? -1).map(toStoredText),
    );
  }

  async readStreamForFold(stream: string, options: ForwardReadOptions = {}): Promise<FoldableEvent[]> {
    return this.guard(() =>
      this.forwardsForFold.all(stream, options.fromRevision ?? 0, options.limit ?? -1).map(toFoldable),
    );
  }

  async streamRevision(stream: string): Promise<number | null> {
    return this.guard(() => this.head.get(stream)?.revision ?? null);
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    const { types } = options;
    if (types === undefined) return this.readAfter(options.after, options.limit ?? -1);
    const from = options.after === undefined ? 0 : Number(options.after);
    return this.guard(() =>
      types.length === 0
        ? []
        : this.allOfTypes.all(from, JSON.stringify(types), options.limit ?? -1).map(toEnvelope),
    );
  }

  /**
   * Asked on every current read: answered from the head last read while no other connection has
   * committed since (SQLite's data_version moves only for their commits; this connection's own
   * appends forget it), which spares the read services a query per request. Even that question is
   * three system calls (two locks and a stat), so it is asked once for every caller of one turn of
   * the event loop, after they have all asked: a head read after a caller's question holds every
   * write completed before it, so sharing it costs no caller any write.
   */
  headPosition(): Promise<string | null> {
    if (this.headAsked) return this.headAsked;
    const asked = new Promise<string | null>((resolve, reject) => {
      setImmediate(() => {
        this.headAsked = null;
        try {
          resolve(this.guard(() => this.readHead()));
        } catch (error) {
          reject(error);
        }
      });
    });
    this.headAsked = asked;
    return asked;
  }

  private readHead(): string | null {
    const known = this.knownHead;
    const version = this.dataVersion.get() as number;
    if (known.version === version) return known.position;
    const last = this.last.get()?.position ?? null;
    const position = last === null ? null : formatPosition(last);
    known.version = version;
    known.position = position;
    return position;
  }

  private async readAfter(after: string | undefined, limit: number): Promise<EventEnvelope[]> {
    const from = after === undefined ? 0 : Number(after);
    return this.guard(() => this.all.all(from, limit).map(toEnvelope));
  }

  subscribe(handler: SubscriptionHandler, options?: SubscribeOptions): Subscription {
    const subscription = pollingSubscription(
      (after, limit) => this.readAfter(after, limit),
      this.waker,
      this.pollMs,
      handler,
      options,
    );
    this.subscriptions.add(subscription);
    subscription.done.then(
      () => this.subscriptions.delete(subscription),
      () => this.subscriptions.delete(subscription),
    );
    return subscription;
  }

  async ping(): Promise<void> {
    this.guard(() => this.db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    // Appends already requested are written, not dropped: their callers are waiting for them.
    if (this.pending.length > 0) this.flush();
    this.closed = true;
    this.db.close();
  }
}
