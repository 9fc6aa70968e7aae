/**
 * The read side on the embedded SQLite store, over a generated history (read-history.ts): 100
 * PTCE of a few hundred events and one of 100,000. Each figure is the median of three runs.
 *
 * - `asof.replay.cold`: the stage of the big PTCE with nothing cached, in this process (read its
 *   log through the store, fold a fresh ledger, stageAt), in events/s, against a raw better-sqlite3
 *   SELECT of the same rows with JSON.parse of their JSON columns (target ratio ≥ 0.4).
 * - `asof.query.p50_ms` / `p99_ms`: ~300 sequential `GET /v1/ptces/{big}/stage?asOf=&knownAt=` at
 *   random valid and transaction times against the standalone server (forked with the V8 flags of
 *   `pnpm start`), after one warm-up read; the baseline is the cold answer's time (targets: p50
 *   ratio ≥ 20, p99 ≥ 4).
 * - `http.read.stage_current`: current stage of the 100 small PTCE, 32 connections, against a bare
 *   Fastify route in the same server process answering a cached JSON of the same size (≥ 0.5).
 * - `rebuild.all` / `rebuild.peak_rss_mb`: `rebuildReadModels` of `@ptce/read-models` over a
 *   1,000,000-event log in a separate file, in a child process started as `pnpm ptce` starts the
 *   command line (its V8 flags, not the server's), with the threads `ptce projections rebuild`
 *   gives it (one per core), against a raw read of every row with JSON.parse in one thread; the
 *   process's peak RSS (VmHWM, its threads included) against the 1024 MB budget. Skipped, and said so on stderr, while that package does not export it.
 *
 * The group forks this very file for its children (`--read-bench-child=server|rebuild`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ledger } from '@ptce/domain';
import { type EventStore, openEventStore } from '@ptce/event-store';
import { ptceStreams } from '@ptce/events';
import Database from 'better-sqlite3';
import { DEFAULT_STAGE_RULES, stageAt } from '../../packages/projections/src/index.ts';
import { getLoad } from './http-load.ts';
import { appendHistory, type GeneratedEvent, generatePtceHistory, prng } from './read-history.ts';
import type { Report } from './report.ts';
import { startFlags } from './start-flags.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 32;
const RUNS = 3;
const SMALL_PTCE = 100;
const BIG_EVENTS = 100_000;
const QUERIES = 300;
/** A run of asOf reads stops there, done or not, so that a slow read side cannot hold the group for hours. */
const QUERY_SECONDS = Number(process.env.BENCH_QUERY_SECONDS ?? 60);
const REBUILD_PTCE = 100;
const REBUILD_EVENTS_EACH = 10_000;
const CHILD_FLAG = '--read-bench-child=';
const self = fileURLToPath(import.meta.url);
export const BIG = 'grand-pole';
/** The valid time the cold replay's stage is asked at. */
export const COLD_AS_OF = '2026-06-01';
const smallId = (i: number) => `pole-${i}`;
const log = (line: string) => process.stderr.write(`read: ${line}\n`);

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

function forkChild(role: 'server' | 'rebuild', args: readonly string[]): ChildProcess {
  return fork(self, [`${CHILD_FLAG}${role}`, ...args], {
    // The server as `pnpm start` runs it; the rebuild as `pnpm ptce projections rebuild` does.
    execArgv: [...startFlags(role === 'server' ? 'start' : 'ptce'), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function waitFor<T>(child: ChildProcess, answer: string, message?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string; error?: string }) => {
      if (m.type === 'error') {
        cleanup();
        reject(new Error(m.error));
      } else if (m.type === answer) {
        cleanup();
        resolve(m as T);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited (${code}) before answering ${answer}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    if (message) child.send(message as object);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.connected) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send({ type: 'stop' });
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  }
  child.kill();
}

// ---------------------------------------------------------------------------------------------
// The read side's own load: read the PTCE's log, cut it, fold a fresh ledger

type LoadLedger = (
  store: EventStore,
  ptceId: string,
  cut: { readonly kind: 'knownAt'; readonly at: number },
) => Promise<{ readonly ledger: Ledger }>;

/**
 * `loadLedger` where the read side keeps it: `@ptce/read-models` once that package exports it (and
 * is a dependency of test/), else the projections service's module it comes from. Looked up at run
 * time so the group follows the move.
 */
const LOAD_LEDGER_MODULES = ['@ptce/read-models', '../../services/projections/src/ledger.ts'];

let loadLedgerFound: Promise<LoadLedger> | undefined;
function loadLedgerFn(): Promise<LoadLedger> {
  loadLedgerFound ??= (async () => {
    const failures: string[] = [];
    for (const specifier of LOAD_LEDGER_MODULES) {
      try {
        const module = (await import(specifier)) as { loadLedger?: LoadLedger };
        if (typeof module.loadLedger === 'function') {
          log(`loadLedger from ${specifier}`);
          return module.loadLedger;
        }
        failures.push(`${specifier}: no loadLedger export`);
      } catch (error) {
        failures.push(
          `${specifier}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        );
      }
    }
    throw new Error(`no loadLedger found: ${failures.join('; ')}`);
  })();
  return loadLedgerFound;
}

const EVERYTHING_KNOWN = { kind: 'knownAt', at: Number.POSITIVE_INFINITY } as const;

// ---------------------------------------------------------------------------------------------
// Seeding

/** The big PTCE's generated history, the same in every run. */
export function bigHistory(): GeneratedEvent[] {
  return generatePtceHistory(BIG, BIG_EVENTS, 7);
}

/** Writes the small PTCE and the big one; returns the big one's recordedAt range (ms). */
async function seedReadStore(url: string): Promise<{ from: number; to: number }> {
  const store = await openEventStore(url);
  try {
    const started = performance.now();
    let events = 0;
    for (let i = 0; i < SMALL_PTCE; i++) {
      const history = generatePtceHistory(smallId(i), 200 + ((i * 37) % 300), 1_000 + i);
      events += await appendHistory(store, smallId(i), history);
    }
    log(`${SMALL_PTCE} small PTCE seeded (${events} events)`);
    const history = bigHistory();
    // Chunks a little apart, so that knownAt cuts through the big history at many places.
    events += await appendHistory(store, BIG, history, { pauseMs: 5 });
    log(
      `big PTCE seeded: ${history.length} events (${events} in all, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
  } finally {
    await store.close();
  }
  const db = new Database(url.slice('sqlite:'.length), { readonly: true });
  try {
    const row = db
      .prepare<[string], { first: string; last: string }>(
        'SELECT MIN(recorded_at) AS first, MAX(recorded_at) AS last FROM events WHERE ptce_id = ?',
      )
      .get(BIG)!;
    return { from: Date.parse(row.first), to: Date.parse(row.last) };
  } finally {
    db.close();
  }
}

/** Folds a sample of the seeded history with the domain and says how many warnings it raises. */
async function checkHistory(url: string): Promise<void> {
  const loadLedger = await loadLedgerFn();
  const store = await openEventStore(url);
  try {
    const { warnings } = await import('../../packages/projections/src/index.ts');
    const codes = new Map<string, number>();
    let total = 0;
    for (const id of [smallId(0), smallId(1), smallId(50), smallId(99), BIG]) {
      const { ledger } = await loadLedger(store, id, EVERYTHING_KNOWN);
      for (const w of warnings(ledger)) {
        total++;
        codes.set(w.code, (codes.get(w.code) ?? 0) + 1);
      }
    }
    log(
      `generated history checked (5 PTCE folded, the big one included): ${total} warnings${total ? ` ${JSON.stringify(Object.fromEntries(codes))}` : ''}`,
    );
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Figure 2: cold replay

interface RawRow {
  data: string;
  metadata: string | null;
}

/** Raw better-sqlite3: the PTCE's rows in position order, each JSON column parsed. */
export function rawReadPtce(file: string, ptceId: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const streams = ptceStreams(ptceId);
    const rows = db
      .prepare<string[], RawRow>(
        `SELECT * FROM events WHERE stream IN (${streams.map(() => '?').join(',')}) ORDER BY global_position`,
      )
      .all(...streams);
    let n = 0;
    for (const row of rows) {
      JSON.parse(row.data);
      if (row.metadata) JSON.parse(row.metadata);
      n++;
    }
    return n;
  } finally {
    db.close();
  }
}

export async function coldReplay(
  url: string,
  asOf: string,
): Promise<{ ms: number; events: number; stage: string }> {
  const loadLedger = await loadLedgerFn();
  const store = await openEventStore(url);
  try {
    const started = performance.now();
    const { ledger } = await loadLedger(store, BIG, EVERYTHING_KNOWN);
    const answer = stageAt(ledger, asOf, DEFAULT_STAGE_RULES);
    return { ms: performance.now() - started, events: ledger.size, stage: answer.stage };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Figure 5: rebuild (child side)

interface Rebuild {
  rebuildReadModels: (options: {
    store: EventStore;
    models: unknown;
    rules: unknown;
    onProgress?: (progress: unknown) => void;
    threads?: { count: number; storeUrl: string };
  }) => Promise<{ ptces: number; events: number; position: string | null }>;
  /** Fresh in-memory read models to rebuild into. */
  memoryModels: () => unknown;
}

/**
 * `rebuildReadModels` of `@ptce/read-models` and its in-memory models (`createMemoryReadModels()`,
 * or `new MemoryReadModels()`), when the package is there and exports them; null otherwise.
 */
async function readModels(): Promise<Rebuild | null> {
  const specifier = '@ptce/read-models';
  try {
    const module = (await import(specifier)) as {
      rebuildReadModels?: Rebuild['rebuildReadModels'];
      createMemoryReadModels?: () => unknown;
      MemoryReadModels?: new () => unknown;
    };
    const { rebuildReadModels, createMemoryReadModels, MemoryReadModels } = module;
    if (typeof rebuildReadModels !== 'function') return null;
    if (typeof createMemoryReadModels === 'function')
      return { rebuildReadModels, memoryModels: createMemoryReadModels };
    if (typeof MemoryReadModels === 'function')
      return { rebuildReadModels, memoryModels: () => new MemoryReadModels() };
    return null;
  } catch {
    return null;
  }
}

function peakRssMb(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function rebuildChild(url: string): Promise<void> {
  const send = (m: unknown) => process.send?.(m);
  try {
    const module = await readModels();
    if (!module) {
      send({ type: 'rebuilt', skipped: true });
      return;
    }
    const store = await openEventStore(url);
    try {
      const started = performance.now();
      // As `ptce projections rebuild` runs it: a thread per core, each reading the store again.
      const result = await module.rebuildReadModels({
        store,
        models: module.memoryModels(),
        rules: DEFAULT_STAGE_RULES,
        threads: { count: os.availableParallelism(), storeUrl: url },
      });
      const ms = performance.now() - started;
      send({
        type: 'rebuilt',
        skipped: false,
        ms,
        events: result.events,
        ptces: result.ptces,
        peakMb: peakRssMb(),
      });
    } finally {
      await store.close();
    }
  } catch (error) {
    send({ type: 'error', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  } finally {
    process.disconnect?.();
  }
}

/** Every row of the file, each JSON column parsed: the raw read a rebuild cannot do without. */
export function rawReadAll(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    let n = 0;
    for (const row of db.prepare<[], RawRow>('SELECT * FROM events ORDER BY global_position').iterate()) {
      JSON.parse(row.data);
      if (row.metadata) JSON.parse(row.metadata);
      n++;
    }
    return n;
  } finally {
    db.close();
  }
}

/** Writes `ptces` PTCE of REBUILD_EVENTS_EACH events each: the rebuild's log (100 in the bench). */
export async function seedRebuildStore(url: string, ptces = REBUILD_PTCE): Promise<number> {
  const store = await openEventStore(url, { synchronous: 'NORMAL' });
  try {
    const started = performance.now();
    let events = 0;
    for (let i = 0; i < ptces; i++) {
      const id = `reconstruction-${i}`;
      events += await appendHistory(store, id, generatePtceHistory(id, REBUILD_EVENTS_EACH, 50_000 + i));
      if ((i + 1) % 10 === 0)
        log(`rebuild log: ${events} events written (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    return events;
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Figures 3 and 4: the server (child side)

async function serverChild(dataDir: string, sampleId: string): Promise<void> {
  const send = (m: unknown) => process.send?.(m);
  const { loadConfig, loadJwtKeys, mintToken } = await import('@ptce/platform');
  const { buildStandalone } = await import('@ptce/standalone');
  const { default: Fastify } = await import('fastify');
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000' });
  const app = await buildStandalone(config, { logger: false });
  const ledgerUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const keys = loadJwtKeys(config);
  if (!keys.privateKey) throw new Error('no signing key');
  const token = await mintToken(
    { sub: 'bench', role: 'admin', ptces: ['*'], ttl: '2h' },
    keys.privateKey,
    config,
  );
  // The baseline answers what a stage read answers, as bytes cached once.
  const sample = await fetch(`${ledgerUrl}/v1/ptces/${sampleId}/stage`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (sample.status !== 200) throw new Error(`sample stage read: ${sample.status} ${await sample.text()}`);
  const cached = await sample.text();
  const bare = Fastify({ logger: false });
  bare.get('/v1/ptces/:ptceId/stage', async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').send(cached),
  );
  const baselineUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  process.on('message', async (message: { type: string }) => {
    if (message.type !== 'stop') return;
    await app.close();
    await bare.close();
    process.disconnect?.();
  });
  send({ type: 'ready', ledgerUrl, baselineUrl, token, answerBytes: Buffer.byteLength(cached) });
}

// ---------------------------------------------------------------------------------------------
// Figures 3 and 4: the load (parent side)

interface Ready {
  type: 'ready';
  ledgerUrl: string;
  baselineUrl: string;
  token: string;
  answerBytes: number;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function asOfQueries(
  ready: Ready,
  recorded: { from: number; to: number },
  seed: number,
): Promise<{ p50: number; p99: number; count: number }> {
  const rnd = prng(seed);
  const first = Date.UTC(2015, 0, 1);
  const last = Date.UTC(2026, 11, 31);
  const deadline = performance.now() + QUERY_SECONDS * 1000;
  const times: number[] = [];
  for (let q = 0; q < QUERIES && performance.now() < deadline; q++) {
    const asOf = isoDay(first + rnd() * (last - first));
    const knownAt = new Date(recorded.from + rnd() * (recorded.to - recorded.from)).toISOString();
    const started = performance.now();
    const response = await fetch(`${ready.ledgerUrl}/v1/ptces/${BIG}/stage?asOf=${asOf}&knownAt=${knownAt}`, {
      headers: { authorization: `Bearer ${ready.token}` },
    });
    const body = await response.text();
    times.push(performance.now() - started);
    if (response.status !== 200)
      throw new Error(`asOf=${asOf} knownAt=${knownAt}: ${response.status} ${body.slice(0, 300)}`);
  }
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), count: times.length };
}

const stageLoad = (url: string, token: string, seed: number) =>
  getLoad(url, token, (n) => `/v1/ptces/${smallId(n % SMALL_PTCE)}/stage`, {
    seed,
    seconds: SECONDS,
    connections: CONNECTIONS,
  });

// ---------------------------------------------------------------------------------------------

export async function run(report: Report): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-bench-read-'));
  try {
    const readFile = path.join(dir, 'ptce.db');
    const readUrl = `sqlite:${readFile}`;
    log(`generating and seeding ${SMALL_PTCE} small PTCE and one of ${BIG_EVENTS} events…`);
    const recorded = await seedReadStore(readUrl);
    await checkHistory(readUrl);

    // Figure 2: cold replay against the raw read of the same rows.
    const asOf = COLD_AS_OF;
    const cold: { ms: number; events: number; stage: string }[] = [];
    const raw: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const started = performance.now();
      const rows = rawReadPtce(readFile, BIG);
      raw.push(rows / ((performance.now() - started) / 1000));
      cold.push(await coldReplay(readUrl, asOf));
    }
    const coldMs = median(cold.map((c) => c.ms));
    const events = cold[0]!.events;
    log(
      `cold replay: ${events} events, stage ${cold[0]!.stage} at ${asOf}, ${cold.map((c) => c.ms.toFixed(0)).join('/')} ms`,
    );
    report({
      bench: 'asof.replay.cold',
      value: events / (coldMs / 1000),
      unit: 'events/s',
      baseline: median(raw),
    });

    // Figures 3 and 4: the server.
    log(`server started as \`pnpm start\` starts it: ${startFlags().join(' ') || 'no V8 flags'}`);
    const server = forkChild('server', [dir, smallId(0)]);
    try {
      const ready = await waitFor<Ready>(server, 'ready');
      log(`stage answers are ${ready.answerBytes} bytes; the baseline route answers as many`);
      let started = performance.now();
      const warm = await fetch(`${ready.ledgerUrl}/v1/ptces/${BIG}/stage`, {
        headers: { authorization: `Bearer ${ready.token}` },
      });
      await warm.text();
      if (warm.status !== 200) throw new Error(`warm-up read: ${warm.status}`);
      log(`warm-up read of the big PTCE: ${(performance.now() - started).toFixed(0)} ms`);
      const p50s: number[] = [];
      const p99s: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        started = performance.now();
        const { p50, p99, count } = await asOfQueries(ready, recorded, 100 + r);
        p50s.push(p50);
        p99s.push(p99);
        log(
          `${count} asOf/knownAt reads${count < QUERIES ? ` (of ${QUERIES}: stopped after ${QUERY_SECONDS} s)` : ''}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${((performance.now() - started) / 1000).toFixed(1)} s)`,
        );
      }
      report({
        bench: 'asof.query.p50_ms',
        value: median(p50s),
        unit: 'ms',
        baseline: coldMs,
        better: 'lower',
      });
      report({
        bench: 'asof.query.p99_ms',
        value: median(p99s),
        unit: 'ms',
        baseline: coldMs,
        better: 'lower',
      });

      const stage: number[] = [];
      const bare: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        bare.push(await stageLoad(ready.baselineUrl, ready.token, r * 1_000));
        stage.push(await stageLoad(ready.ledgerUrl, ready.token, r * 1_000));
        log(`current stage: ${stage.at(-1)!.toFixed(0)} req/s, bare route ${bare.at(-1)!.toFixed(0)} req/s`);
      }
      report({
        bench: 'http.read.stage_current',
        value: median(stage),
        unit: 'req/s',
        baseline: median(bare),
      });
    } finally {
      await stopChild(server);
    }

    // Figure 5: the rebuild, in a process of its own.
    if (!(await readModels())) {
      log(
        'rebuild skipped: @ptce/read-models does not export rebuildReadModels (or is not a dependency of test/)',
      );
      return;
    }
    const rebuildFile = path.join(dir, 'rebuild.db');
    const rebuildUrl = `sqlite:${rebuildFile}`;
    log(
      `rebuild run as \`pnpm ptce\` runs the command line: ${startFlags('ptce').join(' ') || 'no V8 flags'}`,
    );
    log(`generating a log of ${REBUILD_PTCE * REBUILD_EVENTS_EACH} events for the rebuild…`);
    const written = await seedRebuildStore(rebuildUrl);
    const rebuilds: { ms: number; events: number; peakMb: number }[] = [];
    const rawAll: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const started = performance.now();
      const rows = rawReadAll(rebuildFile);
      rawAll.push(rows / ((performance.now() - started) / 1000));
      const child = forkChild('rebuild', [rebuildUrl]);
      try {
        const done = await waitFor<{
          skipped: boolean;
          ms: number;
          events: number;
          ptces: number;
          peakMb: number;
        }>(child, 'rebuilt');
        if (done.skipped) throw new Error('the rebuild child found no rebuildReadModels');
        if (done.events !== written) log(`rebuild read ${done.events} events of ${written} written`);
        log(
          `rebuild: ${done.ptces} PTCE, ${done.events} events in ${(done.ms / 1000).toFixed(1)} s, peak RSS ${done.peakMb.toFixed(0)} MB`,
        );
        rebuilds.push(done);
      } finally {
        child.kill();
      }
    }
    const rebuildMs = median(rebuilds.map((b) => b.ms));
    report({
      bench: 'rebuild.all',
      value: rebuilds[0]!.events / (rebuildMs / 1000),
      unit: 'events/s',
      baseline: median(rawAll),
    });
    report({
      bench: 'rebuild.peak_rss_mb',
      value: median(rebuilds.map((b) => b.peakMb)),
      unit: 'MB',
      baseline: 1024,
      better: 'lower',
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const role = process.argv.find((a) => a.startsWith(CHILD_FLAG))?.slice(CHILD_FLAG.length);
// A child whose parent is gone (the bench interrupted) stops too.
if (role) process.on('disconnect', () => process.exit());
if (role === 'server') {
  const [dataDir, sampleId] = process.argv.slice(process.argv.indexOf(`${CHILD_FLAG}server`) + 1);
  serverChild(dataDir!, sampleId!).catch((error: unknown) => {
    process.send?.({
      type: 'error',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exitCode = 1;
    process.disconnect?.();
  });
} else if (role === 'rebuild') {
  const url = process.argv[process.argv.indexOf(`${CHILD_FLAG}rebuild`) + 1]!;
  await rebuildChild(url);
}
