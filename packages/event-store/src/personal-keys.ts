/**
 * The data keys of natural persons, each wrapped by the deployment's key-encryption key, kept
 * beside the events and the idempotency keys. Destroying one is how a person is erased: the log
 * keeps their sealed fields and its hash chains intact, and nothing can read those fields again.
 */
export interface PersonalKeyStore {
  /** The wrapped keys held for these subjects; a subject without one is absent from the map. */
  find(subjects: readonly string[]): Promise<Map<string, Buffer>>;
  /**
   * The subject's wrapped key, storing `candidate` first when it has none: of two writers creating
   * a subject's key at once, both get the one stored first.
   */
  obtain(subject: string, candidate: Buffer): Promise<Buffer>;
  /** `obtain` for several subjects in one transaction: one write to disk for all of them. */
  obtainMany(candidates: ReadonlyMap<string, Buffer>): Promise<Map<string, Buffer>>;
  /**
   * Removes the subject's key so that its bytes are gone from the store's files, not only from its
   * rows (SQLite: secure_delete and a truncated WAL; PostgreSQL: the table vacuumed and rewritten).
   * False when there was none.
   */
  destroy(subject: string): Promise<boolean>;
}
