import { StoreUnavailableError } from './errors.ts';

// Kept apart from the adapters: callers that only classify errors (the idempotency stores, the
// HTTP layer) must not load better-sqlite3, pg or the KurrentDB gRPC client to do so.

const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|READONLY|CANTOPEN|FULL|NOTADB|CORRUPT|PERM|NOMEM)/;

/** The database file cannot be reached, locked too long, full or broken: not a bug of the caller. */
export function isSqliteUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) return true;
  // The file's directory cannot be created or reached (ENOENT, EACCES, ENOTDIR, EROFS, ENOSPC…).
  if (error instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return error instanceof TypeError && /database connection is not open/.test(error.message);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
// 57P01 admin shutdown (pg_terminate_backend), 57P02 crash shutdown, 57P03 cannot connect now,
// 53300 too many connections, 3D000 database gone.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000']);

/** A connection-level failure (network, server shutdown, pool closed): the store cannot be reached. */
export function isPostgresUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))
  ) {
    return true;
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|Client was closed/i.test(
    error.message,
  );
}
