import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPtceClient, type paths } from '@ptce/client';
import { loadConfig, loadJwtKeys, mintToken, SLUG } from '@ptce/platform';

export interface ImportIo {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void;
  readonly stderrIsTty?: boolean;
  /** The HTTP client (tests hand the server's own). */
  readonly fetch?: typeof fetch;
}

export class ImportUsageError extends Error {}

/** Lines sent per request: the bar moves, and a part re-sent after a failure is small. */
const DEFAULT_PART_LINES = 1_000;
/** A write of thousands of lines takes a while; a server that does not answer in this is gone. */
const REQUEST_TIMEOUT_MS = 10 * 60_000;

/** One line of the file as the API takes it, and where it came from in the file the user gave. */
interface SourcedLine {
  readonly text: string;
  /** The line (or CSV record) of the user's file, from 1. */
  readonly sourceLine: number;
}

/** The import's answer, as the API document describes it. */
type ImportAnswer =
  paths['/v1/ptces/{ptceId}/imports']['post']['responses'][200]['content']['application/json'];
type LineResult = ImportAnswer['results'][number];

/**
 * RFC 4180 records, each with the number of the line it starts on: a quoted field may hold
 * commas, doubled quotes and line breaks. A header row names the columns.
 */
export function parseCsv(text: string): { header: string[]; records: { line: number; fields: string[] }[] } {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let fieldStarted = false;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !fieldStarted)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (quoted) {
      if (char === '"') {
        if (body[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
      continue;
    }
    if (char === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (char === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (char === '\r' && body[i + 1] === '\n') {
      // The CRLF of RFC 4180: the \n ends the record.
    } else if (char === '\n') {
      endRow();
      line++;
      rowLine = line;
    } else {
      field += char;
      fieldStarted = true;
    }
  }
  if (quoted) throw new ImportUsageError(`the CSV has a quoted field left open from line ${rowLine}`);
  if (field !== '' || fields.length > 0 || fieldStarted) endRow();
  const [header, ...records] = rows;
  if (!header) throw new ImportUsageError('the CSV is empty: it needs a header row');
  return { header: header.fields.map((name) => name.trim()), records };
}

/** The columns of a members spreadsheet; the others are refused so that a typo is not ignored. */
const MEMBER_COLUMNS = [
  'organisationId',
  'name',
  'category',
  'legalStatus',
  'joinedAt',
  'leftAt',
  'leftReason',
];
const REQUIRED_COLUMNS = ['name', 'category', 'joinedAt'];

/** An organisation id from its name, when the spreadsheet gives none: as the API's slugs. */
function slugOf(name: string): string {
  return (
    name
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'membre'
  );
}

/**
 * A spreadsheet of members as writes: each row a join (and, with `leftAt`, a departure), every
 * field passed as written so that the server's own rules judge it and name it. Each line keeps
 * the row's line number, and a key of its own from the file and that number.
 */
export function membersCsvLines(text: string, ptceId: string): SourcedLine[] {
  const { header, records } = parseCsv(text);
  const unknown = header.filter((name) => !MEMBER_COLUMNS.includes(name));
  if (unknown.length > 0) {
    throw new ImportUsageError(
      `unknown column ${unknown.map((c) => JSON.stringify(c)).join(', ')} in the CSV header; the columns are ${MEMBER_COLUMNS.join(', ')}`,
    );
  }
  const missing = REQUIRED_COLUMNS.filter((name) => !header.includes(name));
  if (missing.length > 0) throw new ImportUsageError(`the CSV header lacks ${missing.join(', ')}`);
  const file = createHash('sha256').update(text).digest('hex');
  const lines: SourcedLine[] = [];
  for (const record of records) {
    // An unquoted comma in a name shifts every column after it: refused, never read askew.
    if (record.fields.length !== header.length) {
      throw new ImportUsageError(
        `line ${record.line} of the CSV has ${record.fields.length} fields where the header names ${header.length} (quote a field that holds a comma)`,
      );
    }
    const row = Object.fromEntries(header.map((name, i) => [name, (record.fields[i] ?? '').trim()]));
    const organisationId = row.organisationId || slugOf(row.name ?? '');
    const join = {
      method: 'POST',
      path: `/v1/ptces/${ptceId}/members`,
      body: {
        organisationId,
        name: row.name,
        category: row.category,
        ...(row.legalStatus ? { legalStatus: row.legalStatus } : {}),
        occurredAt: row.joinedAt,
      },
      idempotencyKey: `csv:${file}:${record.line}:join`,
    };
    lines.push({ text: JSON.stringify(join), sourceLine: record.line });
    if (row.leftAt) {
      const departure = {
        method: 'POST',
        path: `/v1/ptces/${ptceId}/members/${encodeURIComponent(organisationId)}/departure`,
        body: { occurredAt: row.leftAt, ...(row.leftReason ? { reason: row.leftReason } : {}) },
        idempotencyKey: `csv:${file}:${record.line}:departure`,
      };
      lines.push({ text: JSON.stringify(departure), sourceLine: record.line });
    }
  }
  return lines;
}

/** A request's worth of the text sent: its first line's number in that text, and how many writes it holds. */
interface Part {
  readonly firstLine: number;
  readonly text: string;
  readonly writes: number;
}

/**
 * The text in parts of at most `writes` non-blank lines, cut at line ends and kept as they are
 * (blank lines and line ends included), so that every line keeps the number, and the key, it has
 * in the whole text: the key a line without one gets is the text's SHA-256 and that number.
 */
export function partsOf(text: string, writes: number): Part[] {
  const physical = text.split('\n');
  const parts: Part[] = [];
  let start = 0;
  let count = 0;
  const cut = (end: number) => {
    if (count > 0)
      parts.push({ firstLine: start + 1, text: physical.slice(start, end).join('\n'), writes: count });
    start = end;
    count = 0;
  };
  physical.forEach((line, i) => {
    if (line.trim() === '') return;
    if (count === writes) cut(i);
    count++;
  });
  cut(physical.length);
  return parts;
}

/** What a refusal says, on one line: its status, code, detail and the fields it names. */
function describeRefusal(result: LineResult): string {
  const { problem } = result;
  if (!problem) return String(result.status);
  const fields = (problem.errors ?? []).map((e) => `${e.path || '(value)'}: ${e.message}`).join('; ');
  return `${result.status} ${problem.code} — ${problem.detail}${fields ? ` (${fields})` : ''}`;
}

function progressBar(io: ImportIo, total: number) {
  const width = 30;
  let drawn = false;
  let lastTenth = -1;
  return {
    report(done: number, refused: number) {
      if (io.stderrIsTty) {
        const filled = Math.round((total === 0 ? 1 : done / total) * width);
        io.stderr(
          `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} lines · ${refused} refused\x1b[K`,
        );
        drawn = true;
        return;
      }
      const tenth = Math.floor((done / Math.max(total, 1)) * 10);
      if (tenth === lastTenth && done !== total) return;
      lastTenth = tenth;
      io.stderr(`import: ${done}/${total} lines, ${refused} refused\n`);
    },
    end() {
      if (drawn) io.stderr('\n');
    },
  };
}

/** The token the command sends: given, or minted here as the PTCE's secretary with the deployment's key. */
async function bearerFor(io: ImportIo, ptceId: string, given: string | undefined): Promise<string> {
  const token = given ?? io.env.PTCE_TOKEN;
  if (token) return token;
  const config = loadConfig(io.env);
  const { privateKey } = loadJwtKeys(config);
  if (!privateKey) {
    throw new ImportUsageError(
      'no --token (or PTCE_TOKEN), and this machine has no key to sign one: pass a secretary token',
    );
  }
  // The same subject as `ptce token --role secretary --ptce <id>`: the lines' keys belong to the
  // caller, so a run resumed later must be the same caller.
  return mintToken(
    { sub: `cli:secretary:${ptceId}`, role: 'secretary', ptces: [ptceId], ttl: 3600 },
    privateKey,
    config,
  );
}

/**
 * `ptce import FILE`: a PTCE's history (NDJSON, one write per line) or a spreadsheet of its
 * members (CSV) sent to the server in parts, each part with the whole file's hash and its first
 * line, so that its lines keep their keys: run again after an interruption, it resumes and
 * records nothing twice. Refusals name the file's own line numbers. A spreadsheet is checked
 * whole first (a dry run) and imported only when every row passes.
 */
export async function importFile(args: string[], io: ImportIo): Promise<number> {
  let values: { ptce?: string; url?: string; token?: string; 'dry-run'?: boolean; 'part-lines'?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        ptce: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'part-lines': { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new ImportUsageError((error as Error).message);
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0)
    throw new ImportUsageError('import takes one file: FILE.ndjson or FILE.csv');
  const ptceId = values.ptce;
  if (!ptceId || !SLUG.test(ptceId))
    throw new ImportUsageError('--ptce <id> is required (the PTCE imported into)');
  const partLines = values['part-lines'] === undefined ? DEFAULT_PART_LINES : Number(values['part-lines']);
  if (!Number.isSafeInteger(partLines) || partLines < 1)
    throw new ImportUsageError('--part-lines must be a whole number ≥ 1');
  const format = path.extname(file).toLowerCase();
  if (format !== '.ndjson' && format !== '.jsonl' && format !== '.csv') {
    throw new ImportUsageError(`${file}: the file must be .ndjson (one write per line) or .csv (members)`);
  }
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    io.stderr(`ptce import: cannot read ${file}: ${(error as Error).message}\n`);
    return 1;
  }
  // A spreadsheet becomes writes whose lines say which row they come from; an NDJSON file is sent
  // as it is, so that its lines are numbered, and keyed, as a POST of the whole file would.
  const rows = format === '.csv' ? membersCsvLines(text, ptceId) : undefined;
  const sent = rows ? rows.map((line) => line.text).join('\n') : text;
  const sourceLineOf = (line: number) => (rows ? (rows[line - 1]?.sourceLine ?? line) : line);
  const total = partsOf(sent, Number.MAX_SAFE_INTEGER)[0]?.writes ?? 0;
  if (total === 0) throw new ImportUsageError(`${file} holds no line to import`);
  const base = (values.url ?? io.env.PTCE_URL ?? `http://127.0.0.1:${loadConfig(io.env).PORT}`).replace(
    /\/+$/,
    '',
  );
  const token = await bearerFor(io, ptceId, values.token);
  const source = createHash('sha256').update(sent).digest('hex');
  const client = createPtceClient({
    baseUrl: base,
    token,
    fetch: (request) => (io.fetch ?? fetch)(request, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
  });

  const send = async (part: Part, dryRun: boolean): Promise<ImportAnswer> => {
    const { data, error, response } = await client.POST('/v1/ptces/{ptceId}/imports', {
      params: {
        path: { ptceId },
        query: { source, firstLine: part.firstLine, ...(dryRun ? { dryRun: 'true' as const } : {}) },
      },
      body: part.text,
      // The body is the NDJSON text as it is, not a JSON string of it.
      bodySerializer: (text) => text,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    if (!data) {
      const problem = (error ?? {}) as { code?: string; detail?: string };
      throw new Error(
        `the server answered ${response.status} ${problem.code ?? ''}: ${problem.detail ?? ''}`,
      );
    }
    return data;
  };

  const run = async (parts: readonly Part[], dryRun: boolean) => {
    const progress = progressBar(io, total);
    const totals = { recorded: 0, replayed: 0, refused: 0 };
    const refusals: string[] = [];
    let done = 0;
    try {
      for (const part of parts) {
        const answer = await send(part, dryRun);
        totals.recorded += answer.recorded;
        totals.replayed += answer.replayed;
        totals.refused += answer.refused;
        for (const result of answer.results) {
          if (result.problem)
            refusals.push(`${file}:${sourceLineOf(result.line)}: ${describeRefusal(result)}`);
        }
        done += part.writes;
        progress.report(done, totals.refused);
      }
    } finally {
      progress.end();
    }
    return { totals, refusals };
  };

  const dryRun = values['dry-run'] === true;
  const parts = partsOf(sent, partLines);
  if (rows && !dryRun) {
    // Checked whole, in one request: parts checked one by one would each be decided without the
    // parts before them (a departure whose join is in the previous part).
    const check = await run(partsOf(sent, Number.MAX_SAFE_INTEGER), true);
    if (check.refusals.length > 0) {
      for (const refusal of check.refusals) io.stderr(`${refusal}\n`);
      io.stderr(
        `ptce import: ${check.refusals.length} row(s) refused; nothing imported. Fix them and run again.\n`,
      );
      return 1;
    }
  }
  const { totals, refusals } = await run(parts, dryRun);
  for (const refusal of refusals) io.stderr(`${refusal}\n`);
  await io.stdout(
    `${dryRun ? 'checked' : 'imported'} ${file} into ${ptceId}: ${total} lines, ${totals.recorded} ${dryRun ? 'would be recorded' : 'recorded'}, ${totals.replayed} already recorded, ${totals.refused} refused\n`,
  );
  return totals.refused > 0 ? 1 : 0;
}
