import type { HostContext } from '@ptce/platform';
import { ledgerRepository, type WriteSideOptions } from './ptce.ts';
import { WriteCatalog } from './write-catalog.ts';

const LEDGERS = '@ptce/write-side:ledgers';
const CATALOG = '@ptce/write-side:catalog';

/**
 * A write service's options from its host. The write services mounted in one process share one
 * ledger repository, so each PTCE's history is folded once for all of them.
 */
export function writeSideOptions(host: HostContext): WriteSideOptions {
  return {
    store: host.eventStore,
    idempotency: host.idempotency,
    personalData: host.personalData,
    ledgers: host.shared(LEDGERS, () =>
      ledgerRepository(host.eventStore, { maxEvents: host.config.LEDGER_CACHE_EVENTS }),
    ),
    // One catalogue per process: an import finds every write route mounted beside it.
    catalog: host.shared(CATALOG, () => new WriteCatalog()),
    now: host.clock,
  };
}
