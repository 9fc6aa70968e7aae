import type Database from 'better-sqlite3';
import {
  IDEMPOTENCY_TTL_MS,
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyedRecord,
  keysGuarded,
  leaseStamp,
} from '../idempotency.ts';
import { isSqliteUnavailable } from '../unavailable.ts';

const guarded = <T>(work: () => T) => keysGuarded('sqlite', isSqliteUnavailable, work);

/**
 * On the connection of the events' file (or of a KurrentDB deployment's `idempotency.db`), whose
 * migrations made the table: its owner closes it. Each statement commits on its own, between the
 * event store's group commits — better-sqlite3 is synchronous, so none can run inside one.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly getStmt: Database.Statement<[string, number], { record: string }>;
  private readonly reserveStmt: Database.Statement<[string, string, number]>;
  private readonly expiredStmt: Database.Statement<[string, number]>;
  private readonly takeOverStmt: Database.Statement<[string, number, string, string, number, number]>;
  private readonly renewStmt: Database.Statement<[number, string, string]>;
  private readonly completeStmt: Database.Statement<[string, number, string, string]>;
  private readonly releaseStmt: Database.Statement<[string, string]>;
  private readonly reserveAll: (entries: readonly KeyedRecord[]) => boolean[];
  private readonly completeAll: (entries: readonly KeyedRecord[]) => boolean[];

  constructor(
    db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    db.prepare('DELETE FROM idempotency_keys WHERE expires_at < ?').run(this.now());
    this.getStmt = db.prepare('SELECT record FROM idempotency_keys WHERE key = ? AND expires_at >= ?');
    this.reserveStmt = db.prepare(
      'INSERT INTO idempotency_keys (key, record, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING',
    );
    this.expiredStmt = db.prepare('DELETE FROM idempotency_keys WHERE key = ? AND expires_at < ?');
    this.takeOverStmt = db.prepare(
      `UPDATE idempotency_keys SET record = ?, expires_at = ?
       WHERE key = ? AND json_extract(record, '$.owner') = ?
         AND coalesce(json_extract(record, '$.renewedAt'), json_extract(record, '$.createdAt')) = ?
         AND expires_at >= ?`,
    );
    this.renewStmt = db.prepare(
      `UPDATE idempotency_keys SET record = json_set(record, '$.renewedAt', ?)
       WHERE key = ? AND json_extract(record, '$.owner') = ? AND json_extract(record, '$.state') = 'pending'`,
    );
    this.completeStmt = db.prepare(
      "UPDATE idempotency_keys SET record = ?, expires_at = ? WHERE key = ? AND json_extract(record, '$.owner') = ?",
    );
    this.releaseStmt = db.prepare(
      "DELETE FROM idempotency_keys WHERE key = ? AND json_extract(record, '$.owner') = ?",
    );
    // One transaction, so one fsync for a whole file's keys rather than one per key.
    this.reserveAll = db.transaction((entries: readonly KeyedRecord[]) =>
      entries.map(({ key, record }) => this.reserveNow(key, record)),
    );
    this.completeAll = db.transaction((entries: readonly KeyedRecord[]) =>
      entries.map(({ key, record }) => this.completeNow(key, record)),
    );
  }

  private reserveNow(key: string, record: IdempotencyRecord): boolean {
    this.expiredStmt.run(key, this.now());
    return this.reserveStmt.run(key, JSON.stringify(record), this.now() + IDEMPOTENCY_TTL_MS).changes === 1;
  }

  private completeNow(key: string, record: IdempotencyRecord): boolean {
    return (
      this.completeStmt.run(JSON.stringify(record), this.now() + IDEMPOTENCY_TTL_MS, key, record.owner)
        .changes === 1
    );
  }

  get(key: string): Promise<IdempotencyRecord | null> {
    return guarded(() => {
      const row = this.getStmt.get(key, this.now());
      return row ? (JSON.parse(row.record) as IdempotencyRecord) : null;
    });
  }

  reserve(key: string, record: IdempotencyRecord): Promise<boolean> {
    return guarded(() => this.reserveNow(key, record));
  }

  getMany(keys: readonly string[]): Promise<(IdempotencyRecord | null)[]> {
    return guarded(() => {
      const now = this.now();
      return keys.map((key) => {
        const row = this.getStmt.get(key, now);
        return row ? (JSON.parse(row.record) as IdempotencyRecord) : null;
      });
    });
  }

  reserveMany(entries: readonly KeyedRecord[]): Promise<boolean[]> {
    return guarded(() => this.reserveAll(entries));
  }

  completeMany(entries: readonly KeyedRecord[]): Promise<boolean[]> {
    return guarded(() => this.completeAll(entries));
  }

  takeOver(key: string, stale: IdempotencyRecord, record: IdempotencyRecord): Promise<boolean> {
    return guarded(() => {
      const expiresAt = this.now() + IDEMPOTENCY_TTL_MS;
      return (
        this.takeOverStmt.run(
          JSON.stringify(record),
          expiresAt,
          key,
          stale.owner,
          leaseStamp(stale),
          this.now(),
        ).changes === 1
      );
    });
  }

  renew(key: string, owner: string, at: number): Promise<boolean> {
    return guarded(() => this.renewStmt.run(at, key, owner).changes === 1);
  }

  complete(key: string, record: IdempotencyRecord): Promise<boolean> {
    return guarded(() => this.completeNow(key, record));
  }

  release(key: string, owner: string): Promise<void> {
    return guarded(() => {
      this.releaseStmt.run(key, owner);
    });
  }

  async close(): Promise<void> {}
}
