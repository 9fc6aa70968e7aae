import type Database from 'better-sqlite3';
import { type RevocationStore, type RevokedToken, revokedToken } from '../revocations.ts';

interface RevokedRow {
  jti: string;
  expiresAt: number;
  revokedAt: number;
  reason: string | null;
}

/** On the connection of the events' file, whose migrations made the table: its owner closes it. */
export class SqliteRevocationStore implements RevocationStore {
  private readonly purge: Database.Statement<[number]>;
  private readonly upsert: Database.Statement<[string, number, number, string | null]>;
  private readonly live: Database.Statement<[number], RevokedRow>;
  private readonly revokeInTransaction: (token: RevokedToken) => void;

  constructor(db: Database.Database) {
    this.purge = db.prepare('DELETE FROM revoked_tokens WHERE expires_at <= ?');
    this.upsert = db.prepare(
      `INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) VALUES (?, ?, ?, ?)
       ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    );
    this.live = db.prepare(
      `SELECT jti, expires_at AS expiresAt, revoked_at AS revokedAt, reason
       FROM revoked_tokens WHERE expires_at > ? ORDER BY revoked_at, jti`,
    );
    this.revokeInTransaction = db.transaction((token: RevokedToken) => {
      this.purge.run(token.revokedAt);
      this.upsert.run(token.jti, token.expiresAt, token.revokedAt, token.reason ?? null);
    });
  }

  async revoke(token: RevokedToken): Promise<void> {
    this.revokeInTransaction(token);
  }

  async list(now: number): Promise<RevokedToken[]> {
    return this.live.all(now).map(revokedToken);
  }

  async close(): Promise<void> {}
}
