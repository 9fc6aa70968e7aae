/** A bearer token refused before its expiry, named by its `jti`. */
export interface RevokedToken {
  readonly jti: string;
  /**
   * Milliseconds since the epoch after which the entry may be forgotten: the token's own `exp`
   * (it is refused by then anyway), or, when only the jti was given, the longest lifetime a
   * token may have.
   */
  readonly expiresAt: number;
  readonly revokedAt: number;
  readonly reason?: string;
}

/**
 * Revoked tokens, kept in the deployment's durable store beside the events and the idempotency
 * keys (see `openStores`), so that the `ptce` command and every service process of a deployment
 * see the same list.
 */
export interface RevocationStore {
  /**
   * Records a revocation. Revoking a jti again keeps the first revocation's time and reason and
   * the later of the two expiries. Entries whose expiry has passed are dropped on the way.
   */
  revoke(token: RevokedToken): Promise<void>;
  /** Every revocation whose expiry is after `now` (milliseconds since the epoch). */
  list(now: number): Promise<RevokedToken[]>;
  /**
   * Closes what this store opened for itself; one sharing the event store's connection does
   * nothing here and closes with that store.
   */
  close(): Promise<void>;
}

/** A stored revocation as the port gives it: no `reason` member when none was given. */
export const revokedToken = (row: {
  jti: string;
  expiresAt: number;
  revokedAt: number;
  reason: string | null;
}): RevokedToken => ({
  jti: row.jti,
  expiresAt: row.expiresAt,
  revokedAt: row.revokedAt,
  ...(row.reason === null ? {} : { reason: row.reason }),
});
