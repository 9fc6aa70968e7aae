/**
 * A signed checkpoint of a PTCE's hash chains as a store keeps it: the signed bytes themselves,
 * never re-serialised, so a verifier years later checks exactly what was signed.
 */
export interface StoredCheckpoint {
  readonly ptceId: string;
  /** What the heads are digested to: two checkpoints of the same heads are one. */
  readonly digest: string;
  /** When it was taken, ISO 8601: the order they are listed in. */
  readonly takenAt: string;
  /** The checkpoint's RFC 8785 canonical JSON, the bytes the signature covers. */
  readonly body: string;
  readonly keyId: string;
  /** Ed25519, base64url. */
  readonly signature: string;
}

/**
 * The signed checkpoints of the PTCE's chains, beside the events but outside their log: a
 * checkpoint is no fact of the PTCE, and it must not be in the chains it attests. Whoever can
 * rewrite the events can delete rows here too, but cannot sign new ones without the signing key:
 * a checkpoint that was handed out (with a snapshot, or to an auditor) still proves what was.
 */
export interface CheckpointStore {
  /** Keeps the checkpoint unless one of the same PTCE and digest is there: false then. */
  record(checkpoint: StoredCheckpoint): Promise<boolean>;
  /** Every checkpoint of the PTCE, oldest first. */
  list(ptceId: string): Promise<StoredCheckpoint[]>;
  /**
   * Every PTCE with a checkpoint: what a verification of all must cover even when the log no
   * longer names a PTCE (its registration deleted behind the server's back).
   */
  ptceIds(): Promise<string[]>;
}

/** Oldest first; the digest breaks a tie so that every store lists them in one order. */
export const byTakenAt = (a: StoredCheckpoint, b: StoredCheckpoint) =>
  a.takenAt < b.takenAt
    ? -1
    : a.takenAt > b.takenAt
      ? 1
      : a.digest < b.digest
        ? -1
        : a.digest > b.digest
          ? 1
          : 0;
