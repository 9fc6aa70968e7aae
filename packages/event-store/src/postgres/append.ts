import { type EventEnvelope, GENESIS_HASH, type NewEvent } from '@ptce/events';
import type pg from 'pg';
import {
  assertAppendable,
  checkExpected,
  type Guard,
  guardsOf,
  nowInstant,
  replayOrRefuse,
  type StreamHead,
  sealEvent,
} from '../common.ts';
import { RevisionConflictError, StoreUnavailableError } from '../errors.ts';
import type { AppendOptions, AppendResult, ExpectedRevision } from '../port.ts';
import { type PgConnection, toStoreError } from './connection.ts';
import { lockedInsertClause, lockStatements, streamLockKey } from './locks.ts';
import {
  columnsOf,
  HEAD,
  INSERT_COLUMNS,
  type InsertedRow,
  position,
  RETURNING,
  readHead,
  storedWithIds,
  UNNEST_ROWS,
} from './rows.ts';

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

/** The stream's lock key follows the 13 columns of the plain insert. */
const LOCKED = lockedInsertClause(14);

interface GuardedRow {
  event_id: string | null;
  global_position: string | null;
  transaction_id: string | null;
  moved_stream: string | null;
  moved_actual: number | null;
}

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

/**
 * The three ways an append reaches the table: one optimistic autocommit INSERT on the head it
 * knows (most appends), a transaction that checks `alsoExpected` under the locks, and, for an
 * `any` append that lost a race, one that reads the head under its stream's lock.
 */
export class PostgresAppends {
  private readonly heads = new Map<string, StreamHead>();
  /** Appends of this store under way, by stream. */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly connection: PgConnection,
    /** After every append that wrote: wakes this process's subscribers and tells the others. */
    private readonly onAppended: () => void,
  ) {}

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    assertAppendable(stream, events);
    const guards = guardsOf(stream, options.alsoExpected);
    this.inFlight.set(stream, (this.inFlight.get(stream) ?? 0) + 1);
    try {
      return await this.appendOnce(stream, events, options.expectedRevision, guards);
    } catch (error) {
      // A connection lost mid-append leaves us not knowing whether it committed. Appends are
      // idempotent on event ids, so asking again gives the true answer either way.
      if (!(error instanceof StoreUnavailableError) || this.connection.closed) throw error;
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
      if (head === null && !headFromCache) head = await readHead(this.connection, stream);
      try {
        checkExpected(stream, expected, head);
      } catch (error) {
        if (headFromCache) {
          headFromCache = false;
          head = null;
          continue;
        }
        const existing = await storedWithIds(this.connection, ids);
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
          return replayOrRefuse(stream, events, await storedWithIds(this.connection, ids));
        }
        if (expected !== 'any') {
          const actual = await readHead(this.connection, stream);
          const existing = await storedWithIds(this.connection, ids);
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
        const existing = await storedWithIds(this.connection, ids);
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
    const existing = await storedWithIds(this.connection, ids);
    if (locked.kind === 'duplicate') return replayOrRefuse(stream, events, existing);
    // A replay answers as the first time even though the guarded streams moved since.
    if (existing.length > 0) return replayOrRefuse(stream, events, existing);
    throw locked.conflict;
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
    this.onAppended();
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
    const client = await this.connection.checkOut();
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
    const client = await this.connection.checkOut();
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

  private rememberHead(stream: string, head: StreamHead): void {
    if (this.heads.size > 10_000) this.heads.clear();
    this.heads.set(stream, head);
  }

  /**
   * A plain append: one autocommit statement that takes its stream's lock and holds it until it
   * commits, so it serialises with the guarded appends that check this stream. It reads no other
   * head, so the lock being taken after the statement's snapshot does not matter: (stream,
   * revision) is unique.
   */
  private async insert(
    stream: string,
    sealed: readonly Omit<EventEnvelope, 'position'>[],
  ): Promise<InsertedRow[]> {
    const columns = columnsOf(sealed);
    const [high, low] = streamLockKey(stream);
    if (sealed.length === 1) {
      return this.connection.query(
        'ptce_insert_one',
        `INSERT INTO events (${INSERT_COLUMNS})
         SELECT $1::text, $2::int, $3::text, $4::text, $5::int, $6::text, $7::text, $8::text, $9::text, $10::text,
           $11::text, $12::text, $13::text ${LOCKED}
         RETURNING ${RETURNING}`,
        [...columns.map((c) => c[0]), high, low],
      );
    }
    // One statement: atomic without BEGIN/COMMIT round trips, and the same prepared plan for any batch size.
    return this.connection.query(
      'ptce_insert',
      `INSERT INTO events (${INSERT_COLUMNS}) SELECT * FROM ${UNNEST_ROWS} ${LOCKED} RETURNING ${RETURNING}`,
      [...columns, high, low],
    );
  }
}
