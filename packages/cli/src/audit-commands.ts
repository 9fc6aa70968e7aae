import { parseArgs } from 'node:util';
import { openStores, type Stores } from '@ptce/event-store';
import { slugSchema, validTimeSchema } from '@ptce/events';
import { type Config, loadConfig, loadKeyEncryptionKey, PersonalData, SnapshotKeys } from '@ptce/platform';
import {
  type AuditedEvent,
  auditedEvents,
  ChainCheckpoints,
  knownAtCut,
  loadLedger,
  loadStageRules,
  ptceEvents,
  registeredPtceIds,
  replayBody,
  verifyPtceChains,
} from '@ptce/read-models';

/** Exit codes shared with the other commands: 0 done, 1 failed, 2 bad usage. */
export interface AuditCommandsIo {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void;
}

export class AuditUsageError extends Error {}

function option(value: string | undefined, name: string, check: (v: string) => boolean, expected: string) {
  if (value === undefined) return undefined;
  if (!check(value)) throw new AuditUsageError(`--${name} ${JSON.stringify(value)}: expected ${expected}`);
  return value;
}
const isSlug = (v: string) => slugSchema.safeParse(v).success;
const isValidTime = (v: string) => validTimeSchema.safeParse(v).success;

function parse(
  args: string[],
  options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | undefined
    >;
  } catch (error) {
    throw new AuditUsageError((error as Error).message);
  }
}

/** The stores and the personal data key, as the server opens them with the same configuration. */
async function open(config: Config): Promise<{ stores: Stores; personalData: PersonalData }> {
  const stores = await openStores(config.EVENT_STORE_URL, { dataDir: config.DATA_DIR, poolSize: 2 });
  try {
    const kek = loadKeyEncryptionKey({ key: config.PERSONAL_DATA_KEY, file: config.PERSONAL_DATA_KEY_FILE });
    return { stores, personalData: await PersonalData.open(stores.personalKeys, kek) };
  } catch (error) {
    await stores.close();
    throw error;
  }
}

/** `replay --ptce X --as-of D [--known-at K]`: the JSON the audit API's replay answers. */
export async function replay(args: string[], io: AuditCommandsIo): Promise<number> {
  const values = parse(args, {
    ptce: { type: 'string' },
    'as-of': { type: 'string' },
    'known-at': { type: 'string' },
  });
  const ptceId = option(values.ptce, 'ptce', isSlug, 'a PTCE id');
  const asOf = option(values['as-of'], 'as-of', isValidTime, 'a date YYYY-MM-DD or an ISO-8601 instant');
  const knownAt = option(
    values['known-at'],
    'known-at',
    isValidTime,
    'a date YYYY-MM-DD or an ISO-8601 instant',
  );
  if (ptceId === undefined || asOf === undefined)
    throw new AuditUsageError('replay needs --ptce and --as-of');
  const config = loadConfig(io.env);
  const { stores, personalData } = await open(config);
  try {
    const cut =
      knownAt === undefined
        ? { kind: 'knownAt' as const, at: Number.POSITIVE_INFINITY }
        : knownAtCut(knownAt);
    const { ledger } = await loadLedger(stores.events, ptceId, cut);
    const last = ledger.last?.event;
    const body = await replayBody({
      ptceId,
      ledger,
      asOf,
      knownAt: knownAt ?? last?.recordedAt ?? null,
      rules: loadStageRules(config.STAGE_RULES),
      personalData,
    });
    if (body === null) {
      io.stderr(
        `replay: no PTCE ${ptceId} is registered in the log${knownAt ? ` as known at ${knownAt}` : ''}\n`,
      );
      return 1;
    }
    await io.stdout(`${JSON.stringify(body)}\n`);
    return 0;
  } finally {
    await stores.close();
  }
}

const CSV_COLUMNS = [
  'position',
  'stream',
  'revision',
  'eventId',
  'type',
  'occurredAt',
  'recordedAt',
  'recordedBy',
  'data',
  'evidence',
  'personal',
  'prevHash',
  'hash',
] as const;

/** RFC 4180: quoted when it holds a comma, a quote or a line break, quotes doubled. */
function csvField(value: unknown): string {
  const text = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(event: AuditedEvent): string {
  return `${CSV_COLUMNS.map((column) => csvField(event[column])).join(',')}\r\n`;
}

/** `export --ptce X [--format ndjson|csv]`: every event of the PTCE as stored, streamed to stdout. */
export async function exportEvents(args: string[], io: AuditCommandsIo): Promise<number> {
  const values = parse(args, { ptce: { type: 'string' }, format: { type: 'string' } });
  const ptceId = option(values.ptce, 'ptce', isSlug, 'a PTCE id');
  const format = option(
    values.format ?? 'ndjson',
    'format',
    (v) => v === 'ndjson' || v === 'csv',
    'ndjson or csv',
  );
  if (ptceId === undefined) throw new AuditUsageError('export needs --ptce');
  const config = loadConfig(io.env);
  const { stores, personalData } = await open(config);
  try {
    if (format === 'csv') await io.stdout(`${CSV_COLUMNS.join(',')}\r\n`);
    let batch: Parameters<typeof auditedEvents>[0][number][] = [];
    let count = 0;
    const flush = async () => {
      const events = await auditedEvents(batch, personalData);
      batch = [];
      await io.stdout(events.map((e) => (format === 'csv' ? csvRow(e) : `${JSON.stringify(e)}\n`)).join(''));
    };
    for await (const event of ptceEvents(stores.events, ptceId)) {
      batch.push(event);
      count++;
      if (batch.length === 500) await flush();
    }
    if (batch.length > 0) await flush();
    if (count === 0) {
      io.stderr(`export: no PTCE ${ptceId} in the log\n`);
      return 1;
    }
    return 0;
  } finally {
    await stores.close();
  }
}

/** `verify [--ptce X]`: every chain of one PTCE, or of all; exit 1 naming the first broken event. */
export async function verify(args: string[], io: AuditCommandsIo): Promise<number> {
  const values = parse(args, { ptce: { type: 'string' } });
  const only = option(values.ptce, 'ptce', isSlug, 'a PTCE id');
  const config = loadConfig(io.env);
  const stores = await openStores(config.EVENT_STORE_URL, { dataDir: config.DATA_DIR, poolSize: 2 });
  try {
    let failed = false;
    // Read only: a verification takes no checkpoint and makes no key.
    const checkpoints = new ChainCheckpoints({
      events: stores.events,
      store: stores.checkpoints,
      keys: new SnapshotKeys(config.DATA_DIR),
      now: Date.now,
    });
    // Those the log names, and those only a checkpoint still names: a PTCE whose registration was
    // deleted behind the server's back is verified too, and found out.
    const ids =
      only === undefined
        ? [
            ...new Set([
              ...(await registeredPtceIds(stores.events)),
              ...(await stores.checkpoints.ptceIds()),
            ]),
          ].sort()
        : [only];
    for (const ptceId of ids) {
      const result = await verifyPtceChains(stores.events, ptceId, await checkpoints.evidence(ptceId));
      if (result.brokenAt) {
        const b = result.brokenAt;
        await io.stdout(
          `${ptceId}: BROKEN at event ${b.eventId} (position ${b.position}): ${b.reason} expected ${b.expected}, found ${b.actual}\n`,
        );
        failed = true;
      } else if (result.checkpointMismatch) {
        const m = result.checkpointMismatch;
        const where =
          m.stream === undefined
            ? ''
            : ` ${m.stream}@${m.revision}: expected ${m.expected}, found ${m.actual};`;
        await io.stdout(
          `${ptceId}: CHECKPOINT MISMATCH (${m.reason}) with the checkpoint of ${m.takenAt} signed by ${m.keyId}:${where} ${m.detail}\n`,
        );
        failed = true;
      } else if (result.events === 0) {
        io.stderr(`verify: no PTCE ${ptceId} in the log\n`);
        failed = true;
      } else {
        const against =
          result.checkpoint === null
            ? 'no signed checkpoint yet'
            : `agrees with ${result.checkpoints} signed checkpoint(s), the latest of ${result.checkpoint.takenAt}`;
        await io.stdout(
          `${ptceId}: ok, ${result.events} events, ${result.heads.map((h) => `${h.stream}@${h.revision}`).join(' ')}; ${against}\n`,
        );
      }
    }
    return failed ? 1 : 0;
  } finally {
    await stores.close();
  }
}
