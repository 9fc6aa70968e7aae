import type { EventEnvelope } from '@ptce/events';
import {
  type EventRowColumns,
  formatPosition,
  type Metadata,
  metadataOf,
  POSITION_WIDTH,
  type StreamHead,
  storedTextOf,
} from '../common.ts';
import type { FoldableEvent, StoredEventText } from '../port.ts';
import type { PgConnection } from './connection.ts';

/** An `events` row as read: the reads, the replays and the append paths all map it the same way. */
export interface Row extends EventRowColumns {
  /** bigint, read as text by node-postgres. */
  global_position: string;
  tx_text: string;
}

// Aliased apart from the column: ORDER BY would otherwise sort by the text ("10214" < "9655").
export const COLUMNS = `global_position, transaction_id::text AS tx_text, stream, revision, event_id, type,
  schema_version, ptce_id, occurred_at, recorded_at, recorded_by, data, metadata, prev_hash, hash`;

/** What a fold reads of a row (see `FoldableEvent`): no hashes, recorder or metadata. */
export const FOLDABLE_COLUMNS = `global_position, transaction_id::text AS tx_text, stream, revision, event_id, type,
  schema_version, ptce_id, occurred_at, recorded_at, data`;

export type FoldableRow = Omit<Row, 'recorded_by' | 'metadata' | 'prev_hash' | 'hash'>;

export function toFoldable(row: FoldableRow): FoldableEvent {
  return {
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    ptceId: row.ptce_id,
    occurredAt: row.occurred_at,
    data: JSON.parse(row.data) as Record<string, unknown>,
    position: position(row.tx_text, row.global_position),
    recordedAt: row.recorded_at,
    stream: row.stream,
    revision: row.revision,
  };
}

export const INSERT_COLUMNS = `stream, revision, event_id, type, schema_version, ptce_id, occurred_at, recorded_at,
  recorded_by, data, metadata, prev_hash, hash`;

export const UNNEST_ROWS = `unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])`;

export const RETURNING =
  'event_id, global_position::text AS global_position, transaction_id::text AS transaction_id';

export interface InsertedRow {
  event_id: string;
  global_position: string;
  transaction_id: string;
}

export const HEAD = 'SELECT revision, hash FROM events WHERE stream = $1 ORDER BY revision DESC LIMIT 1';

/** The 13 column arrays of the insert, in INSERT_COLUMNS order. */
export function columnsOf(sealed: readonly Omit<EventEnvelope, 'position'>[]): unknown[][] {
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
export function position(transactionId: string, globalPosition: string): string {
  return formatPosition(BigInt(transactionId), BigInt(globalPosition));
}

export function parsePosition(value: string): [string, string] {
  if (!/^\d+$/.test(value) || value.length !== 2 * POSITION_WIDTH) {
    throw new TypeError(`not a postgres event-store position: ${value}`);
  }
  return [BigInt(value.slice(0, POSITION_WIDTH)).toString(), BigInt(value.slice(POSITION_WIDTH)).toString()];
}

/** The row as stored, data and metadata left as their JSON text. */
export const toStoredText = (row: Row): StoredEventText =>
  storedTextOf(row, position(row.tx_text, row.global_position));

export function toEnvelope(row: Row): EventEnvelope {
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

export async function readHead(connection: PgConnection, stream: string): Promise<StreamHead | null> {
  const rows = await connection.query<StreamHead>('ptce_head', HEAD, [stream]);
  return rows[0] ?? null;
}

export async function storedWithIds(
  connection: PgConnection,
  ids: readonly string[],
): Promise<EventEnvelope[]> {
  const rows = await connection.query<Row>(
    'ptce_by_ids',
    `SELECT ${COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY stream, revision`,
    [ids],
  );
  return rows.map(toEnvelope);
}
