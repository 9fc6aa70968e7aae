export { type CommandBatcherOptions, type Decide, PROVISIONAL_POSITION } from './command-batcher.ts';
export {
  executeWrite,
  idempotencyEventScope,
  idempotencyRecordKey,
  PENDING_LEASE_MS,
  PENDING_RENEW_MS,
  requestFingerprint,
  type WriteAnswer,
  type WriteCommand,
  type WriteDeps,
  type WriteFailure,
  WriteRefused,
} from './execute.ts';
export {
  DEFAULT_MAX_CACHED_EVENTS,
  type Fold,
  type FoldCacheOptions,
  type LoadedLedger,
} from './fold-cache.ts';
export { writeHeadersSchema } from './headers.ts';
export {
  correctionFields,
  factFields,
  generatedIdFor,
  occurredAtSchema,
  ptceParamsSchema,
  runWrite,
  type WriteRouteInput,
  writeResultSchema,
} from './http.ts';
export type { IdOrigin } from './ids.ts';
export {
  derivedLineKey,
  type ForwardLine,
  type ImportInput,
  type ImportLine,
  type ImportLineResult,
  type ImportReport,
  importLineSchema,
  importReportSchema,
  runImport,
} from './import.ts';
export { type ImportRouteOptions, importRoute, NDJSON } from './import-route.ts';
export { LedgerRepository, type LedgerRepositoryOptions } from './ledger-repository.ts';
export { ledgerRepository, type WriteSideOptions, writeDeps } from './ptce.ts';
export { writeSideOptions } from './service-options.ts';
export { UpstreamWrites } from './upstream-writes.ts';
export { type CatalogedWrite, type MatchedWrite, WriteCatalog } from './write-catalog.ts';
export { routePath, type WriteContext, writeContextOf } from './write-context.ts';
export { type AskedWrite, type WriteRoute, type WriteService, writeRoutes } from './write-route.ts';
