import { createHash } from 'node:crypto';
import type { Ledger } from '@ptce/domain';
import {
  fieldErrorsFromIssues,
  type Principal,
  ProblemError,
  parseJsonText,
  problemBody,
  problemSchema,
  toProblem,
} from '@ptce/platform';
import { z } from 'zod';
import {
  checkWritesInOrder,
  executeWrite,
  executeWritesInOrder,
  type Settled,
  type WriteAnswer,
  type WriteCommand,
  type WriteDeps,
} from './execute.ts';
import { type CatalogedWrite, lineOutsidePtce, type WriteCatalog } from './write-catalog.ts';
import { routePath, type WriteContext } from './write-context.ts';

/** One line of an import: a write as the REST API would receive it. */
export const importLineSchema = z.strictObject({
  method: z.enum(['POST', 'PATCH']),
  path: z
    .string()
    .max(2_000)
    .regex(/^\/v1\/[^?#\s]*$/, 'a write route of the API, e.g. /v1/ptces/val-coop/members, with no query'),
  body: z.record(z.string(), z.unknown()),
  // As an HTTP header could carry it: printable ASCII, so a key never holds what its hash refuses.
  idempotencyKey: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x20-\x7e]+$/, 'printable ASCII, as an Idempotency-Key header')
    .optional(),
});
export type ImportLine = z.infer<typeof importLineSchema>;

export const importLineResultSchema = z.object({
  line: z.number().int().describe("the line's number in the file, from 1, blank lines counted"),
  status: z
    .number()
    .int()
    .describe('the status the write got, as the route would answer it (in a dry run: would get)'),
  idempotencyKey: z
    .string()
    .optional()
    .describe("the line's own key, or the one derived from the file and the line number"),
  replayed: z
    .literal(true)
    .optional()
    .describe('answered as an earlier request under the same key was: nothing recorded this time'),
  result: z.record(z.string(), z.unknown()).optional().describe("the write's answer, as the route gives it"),
  wouldRecord: z
    .array(z.string())
    .optional()
    .describe('in a dry run: the types of the events the line would record'),
  problem: problemSchema.optional().describe('why the line was refused'),
});
export type ImportLineResult = z.infer<typeof importLineResultSchema>;

export const importReportSchema = z.object({
  dryRun: z.boolean(),
  lines: z.number().int().describe('lines that hold a write (blank lines left out)'),
  recorded: z.number().int().describe('lines whose write was recorded now (in a dry run: would be)'),
  replayed: z
    .number()
    .int()
    .describe('lines answered as before under their key, recorded by an earlier request'),
  refused: z.number().int(),
  results: z.array(importLineResultSchema).describe('one per line, in the order of the file'),
});
export type ImportReport = z.infer<typeof importReportSchema>;

/** How a line owned by no route of this process is written: by the service that owns it. */
export type ForwardLine = (
  line: ImportLine & { readonly idempotencyKey: string },
) => Promise<{ readonly status: number; readonly body: unknown; readonly replayed: boolean } | undefined>;

export interface ImportInput {
  readonly catalog: WriteCatalog;
  readonly ptceId: string;
  readonly principal: Principal;
  readonly correlationId: string;
  /** The NDJSON text. */
  readonly text: string;
  /**
   * What the derived keys name the file by (hex SHA-256): of the whole file when it is sent in
   * parts, else of `text`.
   */
  readonly source?: string;
  /** The number in the file of `text`'s first line (default 1). */
  readonly firstLine?: number;
  readonly dryRun: boolean;
  readonly maxLines: number;
  /** Lines no route of this process owns; without it they are refused as unknown routes. */
  readonly forward?: ForwardLine;
}

/**
 * Writes run in order within one call of `executeWritesInOrder`: enough to decide and store a
 * file in few appends, few enough that their keys' leases (unrenewed) cannot run out.
 */
const RUN_LENGTH = 1_000;

/** The key a line without one is given: the file's and the line's, so a re-sent file resumes. */
export function derivedLineKey(source: string, line: number): string {
  return `import:${source}:${line}`;
}

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

interface Numbered {
  readonly line: number;
  readonly text: string;
}

/** The lines that hold something, numbered as in the file; too many is refused before any is read. */
function numberedLines(text: string, firstLine: number, maxLines: number): Numbered[] {
  const lines: Numbered[] = [];
  let line = firstLine;
  for (const raw of text.split('\n')) {
    const trimmed = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (trimmed.trim() !== '') lines.push({ line, text: trimmed });
    line++;
  }
  if (lines.length > maxLines) {
    throw new ProblemError(
      413,
      'too_many_lines',
      `The import holds ${lines.length} lines; at most ${maxLines} are taken per request: send the file in parts (the CLI does), each part with source and firstLine so that its lines keep their keys.`,
      { lines: lines.length, maxLines },
    );
  }
  if (lines.length === 0) throw new ProblemError(400, 'empty_import', 'The import holds no line.');
  return lines;
}

/** A line ready to run: its route's write, validated and prepared, or its problem already. */
type Prepared =
  | { readonly kind: 'refused'; readonly problem: ProblemError }
  | {
      readonly kind: 'local';
      readonly write: CatalogedWrite;
      readonly params: unknown;
      readonly body: unknown;
      readonly context: WriteContext;
    }
  | { readonly kind: 'forward'; readonly line: ImportLine & { readonly idempotencyKey: string } };

function lineProblem(issues: readonly z.core.$ZodIssue[], where: string): ProblemError {
  return new ProblemError(400, 'validation_failed', `The line's ${where} is not valid.`, {
    errors: fieldErrorsFromIssues(issues, where),
  });
}

/**
 * What a line forwarded to another service may name: `/v1/ptces/{ptceId}/…` in plain segments.
 * Forwarded, the path becomes a URL of that service; a percent-escape, a dot segment or a
 * backslash would make the URL reach another path than the route matched here.
 */
const FORWARDABLE_PATH = /^\/v1\/ptces\/([a-z0-9][a-z0-9-]{0,62})(\/[A-Za-z0-9_-]+)+$/;

function routeLine(input: ImportInput, numbered: Numbered, source: string): Prepared {
  let parsed: unknown;
  try {
    parsed = parseJsonText(numbered.text);
  } catch (error) {
    const problem = toProblem(error);
    return {
      kind: 'refused',
      problem: new ProblemError(
        400,
        problem.code,
        `The line is not a JSON write: ${problem.detail}`,
        problem.extra,
      ),
    };
  }
  const line = importLineSchema.safeParse(parsed);
  if (!line.success) return { kind: 'refused', problem: lineProblem(line.error.issues, 'line') };
  const idempotencyKey = line.data.idempotencyKey ?? derivedLineKey(source, numbered.line);
  const matched = input.catalog.match(line.data.method, line.data.path);
  if (!matched) {
    if (input.forward) {
      const forwardable = FORWARDABLE_PATH.exec(line.data.path);
      if (!forwardable) {
        return {
          kind: 'refused',
          problem: new ProblemError(
            404,
            'unknown_route',
            `No write route of this process answers ${line.data.method} ${line.data.path}, and a line sent on to another service names /v1/ptces/{ptceId}/… in plain segments (letters, digits, - and _).`,
          ),
        };
      }
      if (forwardable[1] !== input.ptceId)
        return { kind: 'refused', problem: lineOutsidePtce(input.ptceId, forwardable[1]!) };
      return { kind: 'forward', line: { ...line.data, idempotencyKey } };
    }
    return {
      kind: 'refused',
      problem: new ProblemError(
        404,
        'unknown_route',
        `No write route answers ${line.data.method} ${line.data.path}: a line is a write of the API (POST or PATCH under /v1/ptces).`,
      ),
    };
  }
  const { write } = matched;
  const params = write.params ? write.params.safeParse(matched.params) : { success: true as const, data: {} };
  if (!params.success) return { kind: 'refused', problem: lineProblem(params.error.issues, 'params') };
  const named = (params.data as { ptceId?: unknown }).ptceId;
  if (typeof named === 'string' && named !== input.ptceId) {
    return { kind: 'refused', problem: lineOutsidePtce(input.ptceId, named) };
  }
  const body = write.body.safeParse(line.data.body);
  if (!body.success) return { kind: 'refused', problem: lineProblem(body.error.issues, 'body') };
  return {
    kind: 'local',
    write,
    params: params.data,
    body: body.data,
    context: {
      principal: input.principal,
      method: write.method,
      path: routePath(write.url, params.data as Record<string, unknown>),
      idempotencyKey,
      correlationId: input.correlationId,
    },
  };
}

/** Prepares a local line's command; checks it writes to the import's PTCE. */
async function commandOf(
  input: ImportInput,
  prepared: Extract<Prepared, { kind: 'local' }>,
  purpose: 'write' | 'check',
): Promise<WriteCommand<Ledger>> {
  return prepared.write.prepare(prepared.params, prepared.body, prepared.context, {
    purpose,
    ptceId: input.ptceId,
  });
}

function refusedResult(
  line: number,
  error: unknown,
  path: string,
  idempotencyKey?: string,
): ImportLineResult {
  const problem = toProblem(error);
  return {
    line,
    status: problem.status,
    ...(idempotencyKey ? { idempotencyKey } : {}),
    problem: problemBody(
      problem.status,
      problem.code,
      problem.detail,
      path,
      problem.extra,
    ) as ImportLineResult['problem'],
  };
}

function answeredResult(
  line: number,
  answer: WriteAnswer,
  idempotencyKey: string,
  replayed: boolean,
): ImportLineResult {
  return {
    line,
    status: answer.status,
    idempotencyKey,
    ...(replayed ? { replayed: true as const } : {}),
    result: answer.body,
  };
}

/**
 * An import: every line a write of the PTCE, applied in the file's order, each decided on the
 * history as the lines before it left it, with one result per line. Lines that run in this
 * process are queued together (`executeWritesInOrder`); a line whose preparation reads the
 * ledger as stored (a natural person's keys, an erasure) waits for every line before it; a line
 * of another process's route is forwarded to it in its turn. A dry run decides every line and
 * records nothing.
 */
export async function runImport(input: ImportInput): Promise<ImportReport> {
  const source = input.source ?? sha256Hex(input.text);
  const lines = numberedLines(input.text, input.firstLine ?? 1, input.maxLines);
  const prepared = lines.map((numbered) => routeLine(input, numbered, source));
  const pathOf = (i: number) => {
    const p = prepared[i]!;
    return p.kind === 'local' ? p.context.path : p.kind === 'forward' ? p.line.path : '';
  };
  const results: ImportLineResult[] = new Array(lines.length);
  const importRun: ImportRun = { input, lines, prepared, results, pathOf };
  if (input.dryRun) {
    const forwarded = prepared.findIndex((p) => p.kind === 'forward');
    if (forwarded >= 0) {
      throw new ProblemError(
        501,
        'dry_run_needs_every_service',
        `Line ${lines[forwarded]!.line} is written by another service of this split deployment: a dry run decides every line in one process, so run it on the standalone server (or on a copy of the data).`,
      );
    }
    await checkAll(importRun);
  } else {
    await writeAll(importRun);
  }
  const count = (test: (r: ImportLineResult) => boolean) => results.filter(test).length;
  return {
    dryRun: input.dryRun,
    lines: lines.length,
    recorded: count((r) => r.problem === undefined && !r.replayed),
    replayed: count((r) => r.replayed === true),
    refused: count((r) => r.problem !== undefined),
    results,
  };
}

/** What writing or checking the lines of an import works on: `results[i]` is filled for line `i`. */
interface ImportRun {
  readonly input: ImportInput;
  readonly lines: readonly Numbered[];
  readonly prepared: readonly Prepared[];
  readonly results: ImportLineResult[];
  /** The path line `i` writes to, for its result. */
  readonly pathOf: (i: number) => string;
}

async function writeAll({ input, lines, prepared, results, pathOf }: ImportRun): Promise<void> {
  let run: { index: number; command: WriteCommand<Ledger> }[] = [];
  let runDeps: WriteDeps<Ledger> | undefined;
  const flush = async () => {
    if (run.length === 0 || !runDeps) return;
    const queued = run;
    run = [];
    const outcomes = await executeWritesInOrder(
      runDeps,
      queued.map((q) => q.command),
    );
    queued.forEach(({ index, command }, n) => {
      results[index] = settledResult(
        lines[index]!.line,
        outcomes[n]!,
        command.idempotencyKey!,
        pathOf(index),
      );
    });
  };
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!;
    const line = lines[i]!.line;
    if (p.kind === 'refused') {
      results[i] = refusedResult(line, p.problem, pathOf(i));
      continue;
    }
    if (p.kind === 'forward') {
      await flush();
      results[i] = await forwardedResult(input, p.line, line);
      continue;
    }
    const key = p.context.idempotencyKey!;
    // Writes of one ledger repository queue in one order; another's waits for them.
    if (p.write.readsStoredLedger(p.body) || (runDeps && runDeps.ledgers !== p.write.deps.ledgers))
      await flush();
    let command: WriteCommand<Ledger>;
    try {
      command = await commandOf(input, p, 'write');
    } catch (error) {
      results[i] = refusedResult(line, error, pathOf(i), key);
      continue;
    }
    if (p.write.readsStoredLedger(p.body)) {
      try {
        const answer = await executeWrite(p.write.deps, command);
        results[i] = answeredResult(line, answer, key, answer.replayed === true);
      } catch (error) {
        results[i] = refusedResult(line, error, pathOf(i), key);
      }
      continue;
    }
    runDeps = p.write.deps;
    run.push({ index: i, command });
    if (run.length >= RUN_LENGTH) await flush();
  }
  await flush();
}

function settledResult(
  line: number,
  outcome: Settled<WriteAnswer & { replayed: boolean }>,
  key: string,
  path: string,
): ImportLineResult {
  return outcome.ok
    ? answeredResult(line, outcome.value, key, outcome.value.replayed)
    : refusedResult(line, outcome.error, path, key);
}

async function forwardedResult(
  input: ImportInput,
  line: ImportLine & { readonly idempotencyKey: string },
  number: number,
): Promise<ImportLineResult> {
  try {
    const answer = await input.forward!(line);
    if (!answer) {
      return refusedResult(
        number,
        new ProblemError(
          404,
          'unknown_route',
          `No service of this deployment answers ${line.method} ${line.path}.`,
        ),
        line.path,
        line.idempotencyKey,
      );
    }
    const body = (answer.body ?? {}) as Record<string, unknown>;
    if (answer.status >= 400) {
      return {
        line: number,
        status: answer.status,
        idempotencyKey: line.idempotencyKey,
        problem: body as ImportLineResult['problem'],
      };
    }
    return {
      line: number,
      status: answer.status,
      idempotencyKey: line.idempotencyKey,
      ...(answer.replayed ? { replayed: true as const } : {}),
      result: body,
    };
  } catch (error) {
    return refusedResult(number, error, line.path, line.idempotencyKey);
  }
}

async function checkAll({ input, lines, prepared, results, pathOf }: ImportRun): Promise<void> {
  const checked: { index: number; status: number; command: WriteCommand<Ledger> }[] = [];
  let deps: WriteDeps<Ledger> | undefined;
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!;
    const line = lines[i]!.line;
    if (p.kind !== 'local') {
      if (p.kind === 'refused') results[i] = refusedResult(line, p.problem, pathOf(i));
      continue;
    }
    try {
      checked.push({ index: i, status: p.write.status, command: await commandOf(input, p, 'check') });
      deps ??= p.write.deps;
    } catch (error) {
      results[i] = refusedResult(line, error, pathOf(i), p.context.idempotencyKey);
    }
  }
  if (!deps) return;
  const outcomes = await checkWritesInOrder(
    deps,
    checked.map((c) => c.command),
  );
  checked.forEach(({ index, status, command }, n) => {
    const outcome = outcomes[n]!;
    const line = lines[index]!.line;
    const key = command.idempotencyKey!;
    if (!outcome.ok) results[index] = refusedResult(line, outcome.error, pathOf(index), key);
    else if (outcome.value.replayed && outcome.value.answer) {
      results[index] = answeredResult(line, outcome.value.answer, key, true);
    } else if (outcome.value.replayed) {
      // The same write as an earlier line of the file: it would answer what that line gets.
      results[index] = { line, status, idempotencyKey: key, replayed: true, wouldRecord: [] };
    } else {
      results[index] = {
        line,
        status,
        idempotencyKey: key,
        wouldRecord: outcome.value.events.map((e) => e.type),
      };
    }
  });
}
