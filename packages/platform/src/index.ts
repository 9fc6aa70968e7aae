export { type App, type CreateAppOptions, createApp, type ZodPlugin, zodPlugin } from './app.ts';
export {
  type AuthConfig,
  CLOCK_SKEW_SECONDS,
  isPrintableSubject,
  type MintInput,
  mintToken,
  type Principal,
  principalOf,
  ROLES,
  type Role,
  requirePtceScope,
  requireRole,
  revocationTarget,
  SLUG,
  TokenError,
  verifyToken,
} from './auth.ts';
export { type Config, ConfigError, type JwtAlg, loadConfig, parseTtl, type Upstream } from './config.ts';
export { examplesOf, withExamples } from './examples.ts';
export {
  GATEWAY_DOCS_PATH,
  GATEWAY_READY_PATH,
  type GatewayOptions,
  installGateway,
  mergeOpenApiDocuments,
  type OpenApiDocument,
} from './gateway.ts';
export type { HealthOptions, ReadinessCheck } from './health.ts';
export { buildHost, type HostContext, type HostOptions, runHost, type ServiceModule } from './host.ts';
export { parseJsonText } from './http-input.ts';
export { ensureKeys, type JwtKeys, type KeyPair, keyThumbprint, loadJwtKeys } from './keys.ts';
export {
  API_LICENSE,
  type MediaObject,
  type MediaResponse,
  type OpenApiTag,
  problemResponse,
  storeUnavailableResponse,
} from './openapi.ts';
export {
  fingerprintKeyOf,
  loadKeyEncryptionKey,
  PersonalData,
  PersonalDataKeyError,
  type SealingKeys,
} from './personal-data.ts';
export {
  fieldErrorsFromIssues,
  type Problem,
  ProblemError,
  type ProblemFieldError,
  preconditionFailed,
  problemBody,
  problemSchema,
  toProblem,
} from './problem.ts';
export { createRedis } from './redis.ts';
export type { RevocationListOptions } from './revocations.ts';
export type { GracefulShutdown, GracefulShutdownOptions } from './shutdown.ts';
export { SnapshotKeys, type SnapshotPublicKey, type SnapshotSigningKey } from './snapshot-keys.ts';
