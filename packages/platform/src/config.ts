import { createPrivateKey, createPublicKey } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Asymmetric algorithms only: a deployment signs with a private key and every service verifies
 * with the public one. HS* would hand the signing secret to every verifier; `none` is never
 * acceptable.
 */
export const JWT_ALGS = [
  'EdDSA',
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const;
export type JwtAlg = (typeof JWT_ALGS)[number];

const EVENT_STORE_SCHEMES = ['sqlite:', 'postgres://', 'postgresql://', 'esdb://', 'kurrentdb://'] as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`);
  }
}

/** An unset or blank variable counts as absent, so `PORT=` in a .env file means the default. */
const blankToUndefined = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optionalString = z.preprocess(blankToUndefined, z.string().optional());

const TTL = /^(\d+)(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** `30d`, `12h`, `15m`, `90s` → seconds; null when not of that form or zero. */
export function parseTtl(ttl: string): number | null {
  const match = TTL.exec(ttl);
  if (!match) return null;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : null;
}

/** Seconds, as `ptce token --ttl` spells them. */
const duration = (fallback: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .transform((v, ctx) => {
        const seconds = parseTtl(v);
        if (seconds === null) {
          ctx.addIssue({ code: 'custom', message: 'expected a duration such as 90d, 12h, 15m or 90s' });
          return z.NEVER;
        }
        return seconds;
      }),
  );

const integer = (name: string, min: number, max: number, fallback: number) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^\d+$/, { message: `${name} must be a whole number between ${min} and ${max}` })
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(min, { message: `${name} must be a whole number between ${min} and ${max}` })
          .max(max, { message: `${name} must be a whole number between ${min} and ${max}` }),
      )
      .optional()
      .transform((v) => v ?? fallback),
  );

/** PEM keys often arrive through env files with their newlines escaped as `\n`. */
const pem = (kind: 'public' | 'private') =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .transform((v) => v.replace(/\\n/g, '\n'))
      .refine(
        (v) => {
          try {
            if (kind === 'public') createPublicKey(v);
            else createPrivateKey(v);
            return true;
          } catch {
            return false;
          }
        },
        { message: `expected a PEM-encoded ${kind} key` },
      )
      .optional(),
  );

/** The named ranges proxy-addr (Fastify's trustProxy) knows, besides addresses and CIDR blocks. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'] as const;

function isProxyAddress(entry: string): boolean {
  if ((PROXY_RANGE_NAMES as readonly string[]).includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const max = family === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

/**
 * Who may tell a service the client's address in X-Forwarded-For: nobody (`false`, the default:
 * a service reached directly must not believe a header anyone can send), the addresses or CIDR
 * blocks of the gateway, or `true` (every hop: only where the services are unreachable except
 * through the gateway). No hop count: Fastify trusts nobody for one, as it cannot check the
 * immediate peer.
 */
const trustProxy = z.preprocess(
  blankToUndefined,
  z
    .string()
    .default('false')
    .transform((v, ctx): boolean | readonly string[] => {
      if (v === 'false') return false;
      if (v === 'true') return true;
      const entries = v.split(',').map((entry) => entry.trim());
      if (entries.every(isProxyAddress)) return entries;
      ctx.addIssue({
        code: 'custom',
        message:
          'expected true, false, or a comma-separated list of addresses, CIDR blocks or loopback, linklocal, uniquelocal',
      });
      return z.NEVER;
    }),
);

export interface Upstream {
  /** The service's name, as its module names it (membership, working-groups…). */
  readonly name: string;
  /** Its base URL, without a trailing slash. */
  readonly url: string;
}

const UPSTREAM_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** `membership=http://membership:3000,decisions=http://decisions:3000`: the other services of a split deployment. */
const upstreams = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .transform((v, ctx): readonly Upstream[] => {
      if (v === undefined) return [];
      const parsed: Upstream[] = [];
      for (const entry of v.split(',').map((e) => e.trim())) {
        const at = entry.indexOf('=');
        const name = entry.slice(0, at);
        const url = entry.slice(at + 1).replace(/\/+$/, '');
        let valid = at > 0 && UPSTREAM_NAME.test(name);
        try {
          const parsedUrl = new URL(url);
          valid &&= ['http:', 'https:'].includes(parsedUrl.protocol) && !parsedUrl.search && !parsedUrl.hash;
        } catch {
          valid = false;
        }
        if (!valid) {
          ctx.addIssue({
            code: 'custom',
            message: `expected name=http(s)://host:port entries separated by commas, got "${entry}"`,
          });
          return z.NEVER;
        }
        if (parsed.some((u) => u.name === name)) {
          ctx.addIssue({ code: 'custom', message: `${name} is named twice` });
          return z.NEVER;
        }
        parsed.push({ name, url });
      }
      return parsed;
    }),
);

const envSchema = z
  .object({
    PORT: integer('PORT', 0, 65535, 3000),
    HOST: z.preprocess(blankToUndefined, z.string().default('127.0.0.1')),
    DATA_DIR: z.preprocess(blankToUndefined, z.string().default('./data')),
    EVENT_STORE_URL: z.preprocess(
      blankToUndefined,
      z
        .string()
        .refine((v) => EVENT_STORE_SCHEMES.some((s) => v.startsWith(s)), {
          message: `expected a URL starting with one of ${EVENT_STORE_SCHEMES.join(', ')}`,
        })
        .optional(),
    ),
    REDIS_URL: z.preprocess(
      blankToUndefined,
      z
        .string()
        .refine((v) => /^rediss?:\/\/[^\s]+$/.test(v), {
          message: 'expected a redis:// or rediss:// URL',
        })
        .optional(),
    ),
    LOG_LEVEL: z.preprocess(
      blankToUndefined,
      z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    ),
    JWT_ALG: z.preprocess(
      blankToUndefined,
      z
        .enum(JWT_ALGS, {
          message: `expected one of ${JWT_ALGS.join(', ')} (symmetric and none are refused)`,
        })
        .default('EdDSA'),
    ),
    JWT_ISSUER: z.preprocess(blankToUndefined, z.string().default('ptce-ledger')),
    JWT_AUDIENCE: optionalString,
    JWT_MAX_TTL: duration('90d'),
    JWT_PUBLIC_KEY: pem('public'),
    JWT_PRIVATE_KEY: pem('private'),
    RATE_LIMIT_MAX: integer('RATE_LIMIT_MAX', 1, 1_000_000, 600),
    BODY_LIMIT: integer('BODY_LIMIT', 1024, 100 * 1024 * 1024, 1024 * 1024),
    // An import carries a PTCE's past in one request: years of minutes are megabytes, not one.
    IMPORT_BODY_LIMIT: integer('IMPORT_BODY_LIMIT', 1024, 1024 * 1024 * 1024, 32 * 1024 * 1024),
    IMPORT_MAX_LINES: integer('IMPORT_MAX_LINES', 1, 1_000_000, 10_000),
    REQUEST_TIMEOUT_MS: integer('REQUEST_TIMEOUT_MS', 0, 3_600_000, 30_000),
    LEDGER_CACHE_EVENTS: integer('LEDGER_CACHE_EVENTS', 0, 100_000_000, 300_000),
    STAGE_RULES: optionalString,
    READ_MODELS_PREFIX: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^[\x21-\x7e]{1,64}$/, { message: 'expected 1 to 64 printable characters, no space' })
        .default('ptce:read:'),
    ),
    READ_CACHE_EVENTS: integer('READ_CACHE_EVENTS', 0, 100_000_000, 400_000),
    PROJECTOR: z.preprocess(
      blankToUndefined,
      z.enum(['auto', 'on', 'off'], { message: 'expected auto, on or off' }).default('auto'),
    ),
    PERSONAL_DATA_KEY: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9+/_-]{43}=?$/, { message: 'expected 32 random bytes in base64 or base64url' })
        .optional(),
    ),
    PERSONAL_DATA_KEY_FILE: optionalString,
    // 0 turns the round off, for a deployment whose auditors take checkpoints with snapshots only.
    CHECKPOINT_EVERY_HOURS: integer('CHECKPOINT_EVERY_HOURS', 0, 24 * 7, 24),
    TRUST_PROXY: trustProxy,
    UPSTREAMS: upstreams,
  })
  .superRefine((env, ctx) => {
    if (env.JWT_ALG !== 'EdDSA' && !env.JWT_PUBLIC_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_PUBLIC_KEY'],
        message: `required when JWT_ALG is ${env.JWT_ALG}: the keys created on first start are Ed25519 (EdDSA)`,
      });
    }
    if (env.JWT_PRIVATE_KEY && !env.JWT_PUBLIC_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_PUBLIC_KEY'],
        message: 'required when JWT_PRIVATE_KEY is set (give both keys, or neither)',
      });
    }
  });

export interface Config {
  readonly PORT: number;
  readonly HOST: string;
  /** Absolute. */
  readonly DATA_DIR: string;
  readonly EVENT_STORE_URL: string;
  readonly REDIS_URL: string | undefined;
  readonly LOG_LEVEL: (typeof LOG_LEVELS)[number];
  readonly JWT_ALG: JwtAlg;
  readonly JWT_ISSUER: string;
  /**
   * Required `aud` of every token when set; unset, a token carrying any `aud` is refused (it was
   * minted for something else).
   */
  readonly JWT_AUDIENCE: string | undefined;
  /** Seconds: the longest lifetime (exp − iat) a token may have. */
  readonly JWT_MAX_TTL: number;
  readonly JWT_PUBLIC_KEY: string | undefined;
  readonly JWT_PRIVATE_KEY: string | undefined;
  /** Requests per client per minute. */
  readonly RATE_LIMIT_MAX: number;
  /** Bytes. */
  readonly BODY_LIMIT: number;
  /** Bytes an import's NDJSON body may hold. */
  readonly IMPORT_BODY_LIMIT: number;
  /** Lines an import request may hold; a longer file is sent in parts. */
  readonly IMPORT_MAX_LINES: number;
  readonly REQUEST_TIMEOUT_MS: number;
  /** Events of folded PTCE histories kept in memory by a write service, all PTCE together. */
  readonly LEDGER_CACHE_EVENTS: number;
  readonly STAGE_RULES: string | undefined;
  /**
   * Where the read models live in Redis (followed by the stage rules' version): two deployments
   * sharing one Redis, or two test runs, each need their own.
   */
  readonly READ_MODELS_PREFIX: string;
  /** Events of folded PTCE histories kept in memory by a read service, all PTCE together. */
  readonly READ_CACHE_EVENTS: number;
  /**
   * Whether the read service runs the projector: `on`, `off` (it computes every answer, caching
   * current ones), or `auto`, on when REDIS_URL is set (the models are then shared by every read
   * process; alone, a process answers as fast from its own folded logs without a second fold of
   * every write).
   */
  readonly PROJECTOR: 'auto' | 'on' | 'off';
  /**
   * The key-encryption key of natural persons' data keys, when given in the environment (a secret
   * every process of the deployment mounts); else read from PERSONAL_DATA_KEY_FILE.
   */
  readonly PERSONAL_DATA_KEY: string | undefined;
  /** Absolute; default `<DATA_DIR>/personal-data.key`, made on first start with mode 0600. */
  readonly PERSONAL_DATA_KEY_FILE: string;
  /**
   * Hours between two rounds of signed checkpoints of every PTCE whose chains moved (the audit
   * service takes them; every snapshot takes one too); 0: none but the snapshots'.
   */
  readonly CHECKPOINT_EVERY_HOURS: number;
  /** Fastify's `trustProxy`: whose X-Forwarded-For names the client (the rate limit counts by it). */
  readonly TRUST_PROXY: boolean | readonly string[];
  /**
   * The other services of a split deployment, set on the one process that answers the gateway's
   * deployment-wide readiness and merged OpenAPI document (see gateway.ts); empty elsewhere.
   */
  readonly UPSTREAMS: readonly Upstream[];
}

/** Reads the configuration once, at start-up, and names every bad variable at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? 'environment'),
        message: issue.message,
      })),
    );
  }
  const v = parsed.data;
  const dataDir = path.resolve(v.DATA_DIR);
  return Object.freeze({
    PORT: v.PORT,
    HOST: v.HOST,
    DATA_DIR: dataDir,
    EVENT_STORE_URL: v.EVENT_STORE_URL ?? `sqlite:${path.join(dataDir, 'ptce.db')}`,
    REDIS_URL: v.REDIS_URL,
    LOG_LEVEL: v.LOG_LEVEL,
    JWT_ALG: v.JWT_ALG,
    JWT_ISSUER: v.JWT_ISSUER,
    JWT_AUDIENCE: v.JWT_AUDIENCE,
    JWT_MAX_TTL: v.JWT_MAX_TTL,
    JWT_PUBLIC_KEY: v.JWT_PUBLIC_KEY,
    JWT_PRIVATE_KEY: v.JWT_PRIVATE_KEY,
    RATE_LIMIT_MAX: v.RATE_LIMIT_MAX,
    BODY_LIMIT: v.BODY_LIMIT,
    IMPORT_BODY_LIMIT: v.IMPORT_BODY_LIMIT,
    IMPORT_MAX_LINES: v.IMPORT_MAX_LINES,
    REQUEST_TIMEOUT_MS: v.REQUEST_TIMEOUT_MS,
    LEDGER_CACHE_EVENTS: v.LEDGER_CACHE_EVENTS,
    STAGE_RULES: v.STAGE_RULES,
    READ_MODELS_PREFIX: v.READ_MODELS_PREFIX,
    READ_CACHE_EVENTS: v.READ_CACHE_EVENTS,
    PROJECTOR: v.PROJECTOR,
    PERSONAL_DATA_KEY: v.PERSONAL_DATA_KEY,
    PERSONAL_DATA_KEY_FILE: path.resolve(v.PERSONAL_DATA_KEY_FILE ?? path.join(dataDir, 'personal-data.key')),
    CHECKPOINT_EVERY_HOURS: v.CHECKPOINT_EVERY_HOURS,
    TRUST_PROXY: v.TRUST_PROXY,
    UPSTREAMS: v.UPSTREAMS,
  });
}
