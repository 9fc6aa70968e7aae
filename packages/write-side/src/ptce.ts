import { evolveLedger, initialLedger, type Ledger, LedgerCache, settleLedger } from '@ptce/domain';
import type { EventStore, IdempotencyStore } from '@ptce/event-store';
import { ptceStreams, type StreamFamily, streamName } from '@ptce/events';
import { type PersonalData, problemResponse } from '@ptce/platform';
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

/**
 * The success answer and every refusal a write can give, for the OpenAPI document (the platform
 * adds those of any route: validation, token, body size and type, rate limit). A route with no
 * path parameters (registering a PTCE) names nothing that could be unknown: no 404.
 */
export function writeResponses<S extends z.ZodType>(status: 200 | 201, success: S, namesResource: boolean) {
  return {
    [status]: success,
    403: problemResponse("role_forbidden or out_of_scope: outside the caller's role or PTCE scope"),
    ...(namesResource
      ? {
          404: problemResponse(
            'the PTCE, or the resource of the path or the body, is unknown (ptce_not_found, member_not_found…)',
          ),
        }
      : {}),
    409: problemResponse(
      'conflicts with the current state: a domain refusal (already_member, space_closed…), revision_conflict, duplicate_event, or idempotency_key_in_flight (the first request with this Idempotency-Key still runs)',
      { 'retry-after': 'with idempotency_key_in_flight: seconds before the key may be free' },
    ),
    412: problemResponse('precondition_failed: If-Match does not name the current revision of the stream'),
    422: problemResponse(
      'well-formed but refused: a domain refusal (contradicts_history and its `conflicts`, occurred_in_future…), or idempotency_key_reused (the key came with another request)',
    ),
    503: problemResponse(
      "store_unavailable (the event store is unreachable), or personal_data_key_unavailable (the history moved while a natural person's write was prepared): nothing was recorded; send it again",
      { 'retry-after': 'seconds to wait before sending it again' },
    ),
  } as const;
}
