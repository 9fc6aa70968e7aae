import type pg from 'pg';
import { type RevocationStore, type RevokedToken, revokedToken } from '../revocations.ts';

/** On the event store's pool, in the table its migrations made; the pool's owner closes it. */
export class PostgresRevocationStore implements RevocationStore {
  constructor(private readonly pool: pg.Pool) {}

  async revoke(token: RevokedToken): Promise<void> {
    const revokedAt = new Date(token.revokedAt);
    await this.pool.query('DELETE FROM revoked_tokens WHERE expires_at <= $1', [revokedAt]);
    await this.pool.query(
      `INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)`,
      [token.jti, new Date(token.expiresAt), revokedAt, token.reason ?? null],
    );
  }

  async list(now: number): Promise<RevokedToken[]> {
    const { rows } = await this.pool.query<{
      jti: string;
      expires_at: Date;
      revoked_at: Date;
      reason: string | null;
    }>(
      `SELECT jti, expires_at, revoked_at, reason FROM revoked_tokens
       WHERE expires_at > $1 ORDER BY revoked_at, jti`,
      [new Date(now)],
    );
    return rows.map((row) =>
      revokedToken({
        jti: row.jti,
        expiresAt: row.expires_at.getTime(),
        revokedAt: row.revoked_at.getTime(),
        reason: row.reason,
      }),
    );
  }

  async close(): Promise<void> {}
}
