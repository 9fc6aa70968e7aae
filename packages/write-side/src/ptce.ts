import { evolveLedger, initialLedger, type Ledger, LedgerCache, settleLedger } from '@ptce/domain';
import type { EventStore, IdempotencyStore } from '@ptce/event-store';
import { ptceStreams, type StreamFamily, streamName } from '@ptce/events';
import { type PersonalData, problemSchema } from '@ptce/platform';
import type { z } from 'zod';
import type { WriteDeps } from './execute.ts';
import { LedgerRepository, type LedgerRepositoryOptions } from './ledger-repository.ts';
import type { WriteCatalog } from './write-catalog.ts';

/**
 * What every write service needs. In one process (the standalone server) the three services
 * share one instance, so each PTCE's history is folded once for all of them.
 */
export interface WriteSideOptions {
  readonly store: EventStore;
  readonly idempotency: IdempotencyStore;
  readonly personalData: PersonalData;
  readonly ledgers?: LedgerRepository<Ledger>;
  /** Where the write routes of the process are listed for imports (see `WriteCatalog`). */
  readonly catalog?: WriteCatalog;
  readonly now?: () => number;
}

/**
 * The repository of PTCE ledgers a write service decides on. Its ledgers share one cache of what
 * is compiled and replayed of them (and of the strings their logs hold), which lives as long as
 * the repository.
 */
export function ledgerRepository(
  store: EventStore,
  options: LedgerRepositoryOptions = {},
): LedgerRepository<Ledger> {
  const cache = new LedgerCache();
  return new LedgerRepository<Ledger>(
    store,
    {
      initial: () => initialLedger(cache),
      evolve: evolveLedger,
      settle: settleLedger,
      size: (ledger) => ledger.size,
    },
    options,
  );
}

export function writeDeps(options: WriteSideOptions): WriteDeps<Ledger> {
  return {
    store: options.store,
    idempotency: options.idempotency,
    personalData: options.personalData,
    // Without a repository shared by the host, the service folds its own: bounded like any.
    ledgers: options.ledgers ?? ledgerRepository(options.store),
    ...(options.now ? { now: options.now } : {}),
  };
}

/** Where a command of that family on a PTCE appends, and what it reads first (`ptceStreams`). */
export function ptceTarget(family: StreamFamily, ptceId: string) {
  return { ptceId, stream: streamName(family, ptceId), readStreams: ptceStreams(ptceId) };
}

/** The success answer and every refusal a write can give, for the OpenAPI document. */
export function writeResponses<S extends z.ZodType>(status: 200 | 201, success: S) {
  return {
    [status]: success,
    400: problemSchema.describe('malformed or schema-invalid request; nothing recorded'),
    401: problemSchema.describe('no token, or a bad one'),
    403: problemSchema.describe("outside the caller's role or scope"),
    404: problemSchema.describe('unknown PTCE or resource'),
    409: problemSchema.describe('conflicts with the current state'),
    412: problemSchema.describe('If-Match does not match the current revision'),
    422: problemSchema.describe('contradicts the recorded history'),
    503: problemSchema.describe('the event store is unreachable; retry after Retry-After'),
  } as const;
}
