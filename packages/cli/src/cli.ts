import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { keysLiveInRedis, openEventStore, openRevocationStore } from '@ptce/event-store';
import {
  CLOCK_SKEW_SECONDS,
  ConfigError,
  createRedis,
  isPrintableSubject,
  loadConfig,
  loadJwtKeys,
  mintToken,
  parseTtl,
  ROLES,
  type Role,
  revocationTarget,
  SLUG,
  SnapshotKeys,
  TokenError,
} from '@ptce/platform';
import {
  loadStageRules,
  MemoryReadModels,
  PROJECTOR_LEASE_MS,
  projectorLockKey,
  type RebuildProgress,
  RedisProjectorLock,
  RedisReadModels,
  readModelsPrefix,
  rebuildReadModels,
} from '@ptce/read-models';
import { AuditUsageError, exportEvents, replay, verify } from './audit-commands.ts';
import { ImportUsageError, importFile } from './import-command.ts';
import { SnapshotUsageError, verifySnapshot } from './snapshot-commands.ts';

export interface CliIo {
  readonly env: Record<string, string | undefined>;
  /** May return a promise that settles once the text is taken: a long export then waits for a slow reader. */
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal: progress is then one line redrawn, else plain lines. */
  readonly stderrIsTty?: boolean;
  /** The HTTP client of the commands that talk to a server (tests hand the server's own). */
  readonly fetch?: typeof fetch;
}

/** Exit codes: 0 done, 1 failed, 2 bad usage (as most Unix tools). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export const USAGE = `Usage: ptce <command> [options]

Commands:
  token   Mint a bearer token signed with this deployment's key (DATA_DIR/keys or JWT_PRIVATE_KEY)
          --role <${ROLES.join('|')}>   required
          --ptce <id>                   repeatable; a PTCE id in scope, or '*' for all (admin: default '*')
          --sub <subject>               default 'cli:<role>:<ids, sorted, joined by +>' ('cli:admin:*')
          --ttl <n><s|m|h|d>            default 30d (at most JWT_MAX_TTL)
  token revoke <jti | token>
          Refuse a token before it expires, in every service within a minute
          --reason <text>               kept with the revocation

  projections rebuild
          Recompute every PTCE's read model from the log (in Redis when REDIS_URL is set), with
          progress on stderr and a summary on stdout

  replay --ptce <id> --as-of <date|instant> [--known-at <date|instant>]
          Every read-side answer at that valid time, as known then: the audit API's replay JSON
  export --ptce <id> [--format ndjson|csv]
          Every event of the PTCE as stored, natural persons opened beside, streamed to stdout
  verify [--ptce <id>]
          Recompute the hash chains of one PTCE, or of all: exit 0 when every chain holds, 1
          naming the first broken event

  import <file.ndjson | file.csv> --ptce <id> [--url <base URL>] [--token <jwt>] [--dry-run]
          Send a PTCE's history to the server: NDJSON, one write per line ({"method", "path",
          "body", "idempotencyKey"?}), or a CSV of members (header: organisationId?, name,
          category, legalStatus?, joinedAt, leftAt?, leftReason?), checked whole before anything
          is recorded. Sent in parts of --part-lines (default 1000) with a progress bar; run
          again after an interruption, it resumes and records nothing twice. Refusals name the
          file's lines; exit 1 when any line is refused. --url default PTCE_URL, else
          http://127.0.0.1:PORT; --token default PTCE_TOKEN, else one minted here for the PTCE's
          secretary with the deployment's key

  keys rotate
          Make a new current key for signing snapshots (DATA_DIR/keys/snapshots); the retired
          public key stays in /.well-known/jwks.json, so what it signed still verifies
  verify-snapshot <file> --keys <file | http(s) URL>
          Check a saved signed snapshot (or a list answer of them) offline against a JWK set
          (/.well-known/jwks.json): the key named, its thumbprint, the Ed25519 signature over
          the canonical JSON; exit 0 when each verifies, 1 naming what failed

Configuration comes from the same environment as the server (DATA_DIR, JWT_*, …).
`;

class UsageError extends Error {}

const DEFAULT_TTL = 30 * 86400;

/** `90d`, `36h`, `15m` or `90s`: the largest unit that divides it. */
function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/**
 * A subject of its own for each role and scope: idempotency keys are scoped by `sub`, so two
 * PTCE's secretaries sharing one (the former `ptce-cli`) could answer each other's retries.
 */
export function defaultSubject(role: Role, ptces: readonly string[]): string {
  const scope = [...new Set(ptces)].sort().join('+');
  const sub = `cli:${role}:${scope}`;
  if (sub.length <= 200) return sub;
  // A scope of many PTCE: still distinct, still stable for the same list.
  return `cli:${role}:sha256-${createHash('sha256').update(scope).digest('hex').slice(0, 32)}`;
}

async function token(args: string[], io: CliIo): Promise<number> {
  if (args[0] === 'revoke') return revoke(args.slice(1), io);
  let values: { role?: string; ptce?: string[]; sub?: string; ttl?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        role: { type: 'string' },
        ptce: { type: 'string', multiple: true },
        sub: { type: 'string' },
        ttl: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const problems: string[] = [];
  const role = values.role;
  if (!role) problems.push('--role is required');
  else if (!(ROLES as readonly string[]).includes(role))
    problems.push(`--role must be one of ${ROLES.join(', ')}`);
  let ptces = values.ptce ?? [];
  if (ptces.length === 0) {
    if (role === 'admin') ptces = ['*'];
    else problems.push('--ptce is required (a PTCE id, repeatable, or "*")');
  }
  if (ptces.includes('*') && ptces.length > 1) problems.push('--ptce "*" cannot be combined with other ids');
  for (const id of ptces) {
    if (id !== '*' && !SLUG.test(id))
      problems.push(`--ptce ${JSON.stringify(id)} is not a PTCE id (${SLUG.source})`);
  }
  const sub = values.sub;
  if (sub !== undefined && (sub.trim() === '' || sub.length > 200)) {
    problems.push('--sub must be 1 to 200 characters');
  } else if (sub !== undefined && !isPrintableSubject(sub)) {
    problems.push('--sub must not contain control, format or invisible characters');
  }
  const ttl = values.ttl === undefined ? undefined : parseTtl(values.ttl);
  if (ttl === null) problems.push('--ttl must look like 30d, 12h, 15m or 90s');
  if (problems.length > 0 || !role || ttl === null) throw new UsageError(problems.join('\n'));

  const config = loadConfig(io.env);
  if (ttl !== undefined && ttl > config.JWT_MAX_TTL) {
    throw new UsageError(
      `--ttl ${values.ttl} is above JWT_MAX_TTL (${formatSeconds(config.JWT_MAX_TTL)}): every service would refuse the token`,
    );
  }
  const keys = loadJwtKeys(config);
  if (!keys.privateKey) {
    io.stderr(
      'ptce token: JWT_PUBLIC_KEY is set without JWT_PRIVATE_KEY; this process cannot sign tokens.\n',
    );
    return EXIT_FAILED;
  }
  const jwt = await mintToken(
    {
      sub: sub ?? defaultSubject(role as Role, ptces),
      role: role as Role,
      ptces,
      ttl: ttl ?? Math.min(DEFAULT_TTL, config.JWT_MAX_TTL),
    },
    keys.privateKey,
    config,
  );
  io.stdout(`${jwt}\n`);
  return EXIT_OK;
}

const JTI = /^[\x21-\x7e]{1,200}$/;

async function revoke(args: string[], io: CliIo): Promise<number> {
  let values: { reason?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { reason: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [target, ...extra] = positionals;
  if (target === undefined || extra.length > 0) {
    throw new UsageError('token revoke takes one argument: the jti of the token, or the token itself');
  }
  const reason = values.reason;
  if (reason !== undefined && (reason.length > 500 || !isPrintableSubject(reason))) {
    throw new UsageError('--reason must be at most 500 printable characters');
  }
  const isToken = target.includes('.');
  if (!isToken && !JTI.test(target)) {
    throw new UsageError(`${JSON.stringify(target)} is neither a token nor a jti`);
  }

  const config = loadConfig(io.env);
  const now = Date.now();
  // No token outlives this (JWT_MAX_TTL from an `iat` up to the tolerated skew ahead): an entry
  // kept that long refuses the token for all of its life.
  const longestLife = now + (config.JWT_MAX_TTL + CLOCK_SKEW_SECONDS) * 1000;
  let jti = target;
  let expiresAt = longestLife;
  if (isToken) {
    try {
      const claims = await revocationTarget(target, loadJwtKeys(config).publicKey, config);
      jti = claims.jti;
      expiresAt = Math.min(claims.exp * 1000, longestLife);
    } catch (err) {
      if (err instanceof TokenError) throw new UsageError(`not a token of this deployment: ${err.message}`);
      throw err;
    }
    if (expiresAt <= now) {
      io.stderr(
        `ptce token revoke: the token expired at ${new Date(expiresAt).toISOString()}; nothing to do.\n`,
      );
      return EXIT_OK;
    }
  }

  const redis =
    config.REDIS_URL !== undefined && keysLiveInRedis(config.EVENT_STORE_URL, true)
      ? createRedis(config.REDIS_URL)
      : undefined;
  try {
    if (redis) await redis.connect();
    const store = await openRevocationStore({
      eventStoreUrl: config.EVENT_STORE_URL,
      dataDir: config.DATA_DIR,
      ...(redis ? { redis } : {}),
    });
    try {
      await store.revoke({ jti, expiresAt, revokedAt: now, ...(reason === undefined ? {} : { reason }) });
    } finally {
      await store.close();
    }
  } finally {
    redis?.disconnect();
  }
  io.stdout(`revoked ${jti} (remembered until ${new Date(expiresAt).toISOString()})\n`);
  return EXIT_OK;
}

/** A bar redrawn in place on a terminal; elsewhere a line at every tenth of the way. */
function progressReporter(io: CliIo): { report: (progress: RebuildProgress) => void; end: () => void } {
  const width = 30;
  let lastTenth = -1;
  let drawn = false;
  return {
    report({ done, total, events, ptceId }) {
      const share = total === 0 ? 1 : done / total;
      if (io.stderrIsTty) {
        const filled = Math.round(share * width);
        const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
        io.stderr(
          `\r[${bar}] ${done}/${total} PTCE · ${events.toLocaleString('en')} events · ${ptceId}\x1b[K`,
        );
        drawn = true;
        return;
      }
      const tenth = Math.floor(share * 10);
      if (tenth === lastTenth && done !== total) return;
      lastTenth = tenth;
      io.stderr(`rebuild: ${done}/${total} PTCE, ${events} events (${ptceId})\n`);
    },
    end() {
      if (drawn) io.stderr('\n');
    },
  };
}

async function projections(args: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'rebuild' || rest.length > 0) {
    throw new UsageError('projections takes one subcommand, with no option: rebuild');
  }
  const config = loadConfig(io.env);
  const rules = loadStageRules(config.STAGE_RULES);
  const redis = config.REDIS_URL === undefined ? undefined : createRedis(config.REDIS_URL);
  const lockConnection = redis?.duplicate();
  const store = await openEventStore(config.EVENT_STORE_URL);
  let renewal: NodeJS.Timeout | undefined;
  try {
    const prefix = readModelsPrefix(config.READ_MODELS_PREFIX, rules);
    const models = redis ? new RedisReadModels(redis, prefix) : new MemoryReadModels();
    const lock = lockConnection
      ? new RedisProjectorLock(lockConnection, projectorLockKey(prefix), PROJECTOR_LEASE_MS)
      : undefined;
    if (!redis) {
      io.stderr(
        'rebuild: no REDIS_URL, so each read service keeps its models in its own memory and rebuilds them when it starts; this run recomputes them all to check the log and keeps nothing.\n',
      );
    }
    if (lock) {
      await Promise.all([redis!.connect(), lockConnection!.connect()]);
      if (!(await lock.acquire())) {
        io.stderr(
          'rebuild: a projector is active and keeps the models up to date; stop the read services (or let its lock lapse) and run again.\n',
        );
        return EXIT_FAILED;
      }
      // A rebuild of a long log outlasts the lease: it is renewed meanwhile, as a projector does.
      renewal = setInterval(() => void lock.renew().catch(() => undefined), PROJECTOR_LEASE_MS / 3);
    }
    const progress = progressReporter(io);
    const started = Date.now();
    try {
      const summary = await rebuildReadModels({
        store,
        models,
        rules,
        ...(lock ? { lock } : {}),
        onProgress: progress.report,
        threads: { count: availableParallelism(), storeUrl: config.EVENT_STORE_URL },
      });
      progress.end();
      const seconds = (Date.now() - started) / 1000;
      const rate = seconds > 0 ? Math.round(summary.events / seconds) : summary.events;
      io.stdout(
        `rebuilt ${summary.models} read models of ${summary.ptces} PTCE from ${summary.events} events in ${seconds.toFixed(1)} s (${rate} events/s); checkpoint ${summary.position ?? 'none (empty log)'}${redis ? '' : ' (not kept: no REDIS_URL)'}\n`,
      );
    } finally {
      if (renewal) clearInterval(renewal);
      await lock?.release().catch(() => undefined);
    }
    return EXIT_OK;
  } finally {
    await store.close();
    redis?.disconnect();
    lockConnection?.disconnect();
  }
}

async function keys(args: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'rotate' || rest.length > 0) {
    throw new UsageError('keys takes one subcommand, with no option: rotate');
  }
  const config = loadConfig(io.env);
  const { keyId, retired } = new SnapshotKeys(config.DATA_DIR).rotate();
  io.stdout(
    `snapshot signing key ${keyId} is current${retired === null ? '' : `; ${retired} retired (still published)`}\n`,
  );
  return EXIT_OK;
}

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  token,
  projections,
  keys,
  replay,
  export: exportEvents,
  verify,
  'verify-snapshot': verifySnapshot,
  import: importFile,
};

/** Runs one command; never exits the process, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? io.stderr : io.stdout)(USAGE);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr(`ptce: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    return await run(args, io);
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof AuditUsageError ||
      err instanceof SnapshotUsageError ||
      err instanceof ImportUsageError
    ) {
      io.stderr(`ptce ${command}: ${err.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      io.stderr(`ptce ${command}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr(`ptce ${command}: ${(err as Error).message}\n`);
    return EXIT_FAILED;
  }
}
