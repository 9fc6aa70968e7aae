/**
 * The audit service on the embedded SQLite store, over the read bench's generated history: one
 * PTCE of 100,000 events (members, enrolments, meetings, decisions, corrections). Each figure is
 * the median of three runs, against a baseline measured in the same run.
 *
 * - `audit.export`: events/s streaming that PTCE's whole history as NDJSON over HTTP from the
 *   standalone server (forked with the V8 flags of `pnpm start`); baseline: a raw better-sqlite3
 *   SELECT of the same rows with `JSON.stringify` of each (target ratio ≥ 0.5).
 * - `audit.export.rss_mb`: the server's peak resident memory (VmHWM) over the three exports
 *   (≤ 300 MB): a stream in constant memory, not the history in a buffer.
 * - `audit.verify`: events/s of `GET …/verify` on that PTCE; baseline: the same raw read plus a
 *   SHA-256 of each row's bytes (target ratio ≥ 0.5).
 *
 * - `http.snapshot`: req/s of the current signed snapshot (`GET /v1/snapshots/{id}`) with 32
 *   connections across 100 smaller PTCE (200 to 500 events each) of the same server; baseline: a
 *   bare Fastify route of the same process answering one of those snapshots' JSON, cached as bytes
 *   (target ratio ≥ 0.4). Each snapshot is made once before the load: the figure is the steady
 *   state of repeated current reads, the first read's cost is logged apart.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEventStore } from '@ptce/event-store';
import Database from 'better-sqlite3';
import { getLoad } from './http-load.ts';
import { appendHistory, generatePtceHistory } from './read-history.ts';
import type { Report } from './report.ts';
import { startFlags } from './start-flags.ts';

const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 100_000);
const RUNS = 3;
const SMALL_PTCE = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 32;
const smallId = (i: number) => `pole-${i}`;
const BIG = 'grand-pole';
const CHILD_FLAG = '--audit-bench-child';
const self = fileURLToPath(import.meta.url);
const log = (line: string) => process.stderr.write(`audit: ${line}\n`);

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

interface Ready {
  readonly type: 'ready';
  readonly url: string;
  readonly token: string;
  /** A bare Fastify route in the same process, answering one snapshot's JSON cached as bytes. */
  readonly baselineUrl: string;
}

async function serverChild(dataDir: string): Promise<void> {
  const { loadConfig, loadJwtKeys, mintToken } = await import('@ptce/platform');
  const { buildStandalone } = await import('@ptce/standalone');
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000' });
  const app = await buildStandalone(config, { logger: false });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const keys = loadJwtKeys(config);
  if (!keys.privateKey) throw new Error('no signing key');
  const token = await mintToken(
    { sub: 'bench', role: 'auditor', ptces: ['*'], ttl: '2h' },
    keys.privateKey,
    config,
  );
  const sample = await fetch(`${url}/v1/snapshots/${smallId(0)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (sample.status !== 200) throw new Error(`sample snapshot: ${sample.status} ${await sample.text()}`);
  const cached = await sample.text();
  const { default: Fastify } = await import('fastify');
  const bare = Fastify({ logger: false });
  bare.get('/v1/snapshots/:ptceId', async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').send(cached),
  );
  const baselineUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  process.on('message', async (message: { type: string }) => {
    if (message.type !== 'stop') return;
    await app.close();
    await bare.close();
    process.disconnect?.();
  });
  process.send?.({ type: 'ready', url, token, baselineUrl } satisfies Ready);
}

/** The child's peak resident set so far, from the kernel: what a container limit would count. */
function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Reads the NDJSON stream as a client would, counting lines, keeping nothing. */
async function exportOnce(ready: Ready): Promise<{ events: number; seconds: number }> {
  const started = performance.now();
  const response = await fetch(`${ready.url}/v1/audit/ptces/${BIG}/events`, {
    headers: { authorization: `Bearer ${ready.token}`, accept: 'application/x-ndjson' },
  });
  if (response.status !== 200 || !response.body) throw new Error(`export: ${response.status}`);
  let events = 0;
  // Lines counted natively: a byte-by-byte loop in JavaScript took 0.9 s per 70 MB, on the core
  // the server needs too.
  for await (const chunk of response.body) {
    const bytes = Buffer.from(chunk as Uint8Array);
    for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) events++;
  }
  return { events, seconds: (performance.now() - started) / 1000 };
}

async function verifyOnce(ready: Ready): Promise<{ events: number; seconds: number }> {
  const started = performance.now();
  const response = await fetch(`${ready.url}/v1/audit/ptces/${BIG}/verify`, {
    headers: { authorization: `Bearer ${ready.token}` },
  });
  const body = (await response.json()) as { ok?: boolean; events?: number };
  if (response.status !== 200 || body.ok !== true)
    throw new Error(`verify: ${response.status} ${JSON.stringify(body)}`);
  return { events: body.events ?? 0, seconds: (performance.now() - started) / 1000 };
}

/** Current snapshots of the 100 smaller PTCE in turn, 32 connections: requests per second. */
const snapshotLoad = (url: string, token: string, seed: number) =>
  getLoad(url, token, (n) => `/v1/snapshots/${smallId(n % SMALL_PTCE)}`, {
    seed,
    seconds: SECONDS,
    connections: CONNECTIONS,
  });

/** The rows as the store holds them, read raw: what any export must at least do. */
function rawRead(
  file: string,
  each: (row: Record<string, unknown>) => void,
): { events: number; seconds: number } {
  const db = new Database(file, { readonly: true });
  try {
    const started = performance.now();
    let events = 0;
    for (const row of db
      .prepare('SELECT * FROM events WHERE ptce_id = ? ORDER BY global_position')
      .iterate(BIG)) {
      each(row as Record<string, unknown>);
      events++;
    }
    return { events, seconds: (performance.now() - started) / 1000 };
  } finally {
    db.close();
  }
}

export async function run(report: Report): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-bench-audit-'));
  const file = path.join(dataDir, 'ptce.db');
  let child: ChildProcess | undefined;
  try {
    log(`generating a PTCE of ${EVENTS} events…`);
    const store = await openEventStore(`sqlite:${file}`, { synchronous: 'NORMAL' });
    try {
      await appendHistory(store, BIG, generatePtceHistory(BIG, EVENTS, 7));
      for (let i = 0; i < SMALL_PTCE; i++) {
        await appendHistory(
          store,
          smallId(i),
          generatePtceHistory(smallId(i), 200 + ((i * 37) % 300), 1_000 + i),
        );
      }
    } finally {
      await store.close();
    }
    child = fork(self, [CHILD_FLAG, dataDir], {
      execArgv: [...startFlags(), '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<Ready>((resolve, reject) => {
      child!.once('message', (m) => resolve(m as Ready));
      child!.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    });

    const exports: number[] = [];
    const exportBaselines: number[] = [];
    const verifies: number[] = [];
    const verifyBaselines: number[] = [];
    const snapshots: number[] = [];
    const snapshotBaselines: number[] = [];
    // Steady state is what is measured: each snapshot made once (a replay and a signature,
    // ~15 ms on a quiet machine) before the load, as a funders' portal would find them.
    const warm = performance.now();
    for (let i = 0; i < SMALL_PTCE; i++) {
      const response = await fetch(`${ready.url}/v1/snapshots/${smallId(i)}`, {
        headers: { authorization: `Bearer ${ready.token}` },
      });
      if (response.status !== 200) throw new Error(`snapshot ${smallId(i)}: ${response.status}`);
      await response.arrayBuffer();
    }
    log(`${SMALL_PTCE} snapshots made in ${((performance.now() - warm) / 1000).toFixed(1)} s`);
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const exported = await exportOnce(ready);
      let bytes = 0;
      const raw = rawRead(file, (row) => {
        bytes += JSON.stringify(row).length;
      });
      // The generator adds the registration and a few facts around the events asked for.
      if (exported.events !== raw.events) {
        throw new Error(`export streamed ${exported.events} events of ${raw.events}`);
      }
      exports.push(exported.events / exported.seconds);
      exportBaselines.push(raw.events / raw.seconds);
      const verified = await verifyOnce(ready);
      verifies.push(verified.events / verified.seconds);
      const hashed = rawRead(file, (row) => {
        createHash('sha256').update(JSON.stringify(row)).digest();
      });
      verifyBaselines.push(hashed.events / hashed.seconds);
      snapshots.push(await snapshotLoad(ready.url, ready.token, runIndex * 1_000));
      snapshotBaselines.push(await snapshotLoad(ready.baselineUrl, ready.token, runIndex * 1_000));
      log(
        `run ${runIndex + 1}: snapshot ${Math.round(snapshots.at(-1)!)} req/s (bare route ${Math.round(snapshotBaselines.at(-1)!)})`,
      );
      log(
        `run ${runIndex + 1}: export ${Math.round(exports.at(-1)!)} ev/s (raw ${Math.round(exportBaselines.at(-1)!)}, ${bytes} bytes), verify ${Math.round(verifies.at(-1)!)} ev/s (raw+sha256 ${Math.round(verifyBaselines.at(-1)!)})`,
      );
    }
    report({
      bench: 'audit.export',
      value: median(exports),
      unit: 'events/s',
      baseline: median(exportBaselines),
    });
    report({
      bench: 'audit.export.rss_mb',
      value: peakRssMb(child.pid!),
      unit: 'MB',
      baseline: 300,
      better: 'lower',
    });
    report({
      bench: 'http.snapshot',
      value: median(snapshots),
      unit: 'req/s',
      baseline: median(snapshotBaselines),
    });
    report({
      bench: 'audit.verify',
      value: median(verifies),
      unit: 'events/s',
      baseline: median(verifyBaselines),
    });
  } finally {
    if (child?.connected) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.send({ type: 'stop' });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    }
    child?.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes(CHILD_FLAG)) {
  const dataDir = process.argv[process.argv.indexOf(CHILD_FLAG) + 1]!;
  serverChild(dataDir).catch((error: unknown) => {
    process.stderr.write(`audit bench server: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
