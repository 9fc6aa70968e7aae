import type { ExpectedRevision } from './port.ts';

/** The stream did not stand where the writer expected: nothing was written. */
export class RevisionConflictError extends Error {
  override readonly name = 'RevisionConflictError';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, null when the stream does not exist. */
    readonly actual: number | null,
  ) {
    super(
      `stream ${stream}: expected revision ${String(expected)}, actual ${actual === null ? 'no stream' : actual}`,
    );
  }
}

/** The store cannot be reached or cannot write: nothing is known to have been written. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An event id already stored is re-appended with another content, stream or batch: a client bug. */
export class DuplicateEventIdError extends Error {
  override readonly name = 'DuplicateEventIdError';
  constructor(
    readonly eventId: string,
    reason: string,
  ) {
    super(`event ${eventId}: ${reason}`);
  }
}

/** An append not written because one before it in its chain failed (see `AppendOptions.chain`). */
export class AppendChainBrokenError extends Error {
  override readonly name = 'AppendChainBrokenError';
  constructor(readonly stream: string) {
    super(`stream ${stream}: not appended, an append before it in its chain failed`);
  }
}
