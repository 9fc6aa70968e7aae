/**
 * The write side over HTTP: joins per second with 32 connections against the standalone server
 * on SQLite, each request a new member of one of 100 PTCE, against a bare Fastify route doing a
 * raw SQLite INSERT in the same server process (target ratio ≥ 0.5); the same when the target
 * PTCE already holds 50,000 events (≥ 0.5 of the first figure: a long history must not be
 * replayed on every command); the joins again with every tenth by a natural person, whose name
 * is sealed under a data key made for them (within 10 % of the first ratio); the server's peak
 * resident memory (≤ 300 MB).
 *
 * Every load sends a fixed number of requests (BENCH_JOINS, 10,000 by default) rather than
 * running for a fixed time: the server keeps what it is sent, so with loads of a fixed duration
 * a faster machine left it holding more members, and its memory measured the machine's speed as
 * much as the server. Each run of the group now ends with the same history: about 110,000
 * events, 40,000 of them joins on the 100 PTCE.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEventStore } from '@ptce/event-store';
import { streamName } from '@ptce/events';
import autocannon from 'autocannon';
import type { Report } from './report.ts';
import { startFlags } from './start-flags.ts';

const JOINS = Number(process.env.BENCH_JOINS ?? 10_000);
const CONNECTIONS = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PTCE_COUNT = 100;
const LONG_HISTORY = 50_000;
const here = path.dirname(fileURLToPath(import.meta.url));

export interface Ready {
  type: 'ready';
  ledgerUrl: string;
  baselineUrl: string;
  token: string;
  eventStoreUrl: string;
}

/**
 * A long history written straight into the server's SQLite file from this process, as another
 * writer would: 50,000 joins take seconds this way, not minutes over HTTP, and the server's
 * memory figure then counts what it needs to serve that PTCE, not the seeding's garbage.
 */
export async function seedLongHistory(eventStoreUrl: string, ptceId: string, events: number): Promise<void> {
  const store = await openEventStore(eventStoreUrl);
  try {
    const stream = streamName('membership', ptceId);
    let revision = (await store.streamRevision(stream)) ?? -1;
    for (let done = 0; done < events; ) {
      const batch = Array.from({ length: Math.min(1_000, events - done) }, (_, i) => ({
        eventId: randomUUID(),
        type: 'MemberJoined',
        schemaVersion: 1,
        ptceId,
        occurredAt: '2019-01-01',
        recordedBy: 'bench-seed',
        data: {
          organisationId: `seed-${done + i}`,
          name: `Membre historique ${done + i}`,
          category: 'ess_enterprise',
        },
      }));
      revision = (await store.append(stream, batch, { expectedRevision: revision })).nextRevision;
      done += batch.length;
    }
  } finally {
    await store.close();
  }
}

export function request<T>(child: ChildProcess, message: unknown, answer: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== answer) return;
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    if (message) child.send(message as object);
  });
}

/** With `naturalPersons`, every tenth join is a citizen's: a name sealed under a data key made for them. */
function joinBody(n: number, naturalPersons: boolean) {
  const person = naturalPersons && n % 10 === 0;
  return JSON.stringify({
    organisationId: `org-${n}`,
    name: person ? `Camille Habitante n° ${n}` : `Coopérative d'activités n° ${n}`,
    category: person ? 'natural_person' : 'ess_enterprise',
    occurredAt: '2024-03-15',
    evidence: { source: 'procès-verbal du comité de pilotage' },
  });
}

export interface Load {
  readonly perSecond: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

/**
 * `amount` requests (at least one per connection) over 32 connections, each a new organisation joining one of `ptceIds`,
 * round-robin; the rate is the requests answered over the time they took.
 */
export async function load(
  url: string,
  token: string,
  ptceIds: readonly string[],
  seed: number,
  naturalPersons = false,
  amount = JOINS,
): Promise<Load> {
  let n = seed;
  // autocannon ends a fixed amount at its next one-second tick, and its duration with it: the
  // time is taken here, from the start to the last answer.
  const started = performance.now();
  let lastAnswer = started;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        amount: Math.max(amount, CONNECTIONS),
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              n++;
              return {
                ...req,
                path: `/v1/ptces/${ptceIds[n % ptceIds.length]}/members`,
                headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
                body: joinBody(n, naturalPersons),
              };
            },
          },
        ],
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', () => {
      lastAnswer = performance.now();
    });
  });
  return {
    perSecond: result.requests.total / ((lastAnswer - started) / 1000),
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

export async function registerPtce(url: string, token: string, ptceId: string): Promise<void> {
  const response = await fetch(`${url}/v1/ptces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      ptceId,
      name: `PTCE ${ptceId}`,
      territory: { name: 'Territoire de banc d’essai' },
      pilot: { organisationId: 'pilote', name: 'Organisation pilote', category: 'ess_enterprise' },
      occurredAt: '2018-01-01',
    }),
  });
  if (response.status !== 201)
    throw new Error(`registering ${ptceId}: ${response.status} ${await response.text()}`);
}

export function assertClean(name: string, run: Load): void {
  if (run.errors > 0 || run.non2xx > 0) {
    throw new Error(
      `${name}: ${run.errors} errors and ${run.non2xx} non-2xx answers: the figure would be meaningless`,
    );
  }
}

export async function run(report: Report): Promise<void> {
  process.stderr.write(
    `write: server started as \`pnpm start\` starts it: ${startFlags().join(' ') || 'no V8 flags'}\n`,
  );
  const child = fork(path.join(here, 'write-server.ts'), [], {
    // BENCH_PROFILE_DIR=dir: the server writes a V8 CPU profile there when it stops.
    execArgv: [
      ...startFlags(),
      '--import',
      'tsx',
      ...(process.env.BENCH_PROFILE_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await request<Ready>(child, null, 'ready');
    const ptceIds = Array.from({ length: PTCE_COUNT }, (_, i) => `bench-${i}`);
    for (const id of ptceIds) await registerPtce(ready.ledgerUrl, ready.token, id);

    // The machine is shared and noisy: alternate baseline and ledger rounds, keep each one's best.
    let baseline: Load | undefined;
    let joins: Load | undefined;
    let withPersons: Load | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const b = await load(ready.baselineUrl, ready.token, ptceIds, round * 1_000_000);
      assertClean('baseline', b);
      const j = await load(ready.ledgerUrl, ready.token, ptceIds, round * 1_000_000);
      assertClean('member_join', j);
      const p = await load(ready.ledgerUrl, ready.token, ptceIds, 50_000_000 + round * 1_000_000, true);
      assertClean('member_join.natural_persons', p);
      if (!baseline || b.perSecond > baseline.perSecond) baseline = b;
      if (!joins || j.perSecond > joins.perSecond) joins = j;
      if (!withPersons || p.perSecond > withPersons.perSecond) withPersons = p;
    }
    if (!baseline || !joins || !withPersons) throw new Error('no round ran');
    report({
      bench: 'http.write.member_join',
      value: joins.perSecond,
      unit: 'req/s',
      baseline: baseline.perSecond,
    });
    // Its ratio against the same baseline is held to member_join's: sealing a person's name under
    // a key of their own must not slow the writes down by more than 10 %.
    report({
      bench: 'http.write.member_join.natural_persons_1_in_10',
      value: withPersons.perSecond,
      unit: 'req/s',
      baseline: baseline.perSecond,
    });
    report({
      bench: 'http.write.member_join.p99_ms',
      value: joins.p99,
      unit: 'ms',
      baseline: baseline.p99,
      better: 'lower',
    });

    // Commands on one PTCE decide one after the other, so a single PTCE's throughput is bounded
    // by one command's latency whatever its history: measure that bound on a short history too,
    // to tell what the 50,000 events cost from what writing to a single PTCE costs.
    const peakSoFar = async () => {
      const { peakRss, now } = await request<{ peakRss: number; now: NodeJS.MemoryUsage }>(
        child,
        { type: 'rss' },
        'rss',
      );
      const mb = (n: number) => Math.round(n / 1_048_576);
      return `${mb(peakRss)} (now: rss ${mb(now.rss)}, heap ${mb(now.heapUsed)}/${mb(now.heapTotal)}, external ${mb(now.external)})`;
    };
    process.stderr.write(`write: peak RSS ${await peakSoFar()} MB after the joins on 100 PTCE\n`);
    process.stderr.write('write: one PTCE with a short history…\n');
    await registerPtce(ready.ledgerUrl, ready.token, 'bench-short');
    const short = await load(ready.ledgerUrl, ready.token, ['bench-short'], 200_000_000);
    assertClean('single_ptce', short);
    process.stderr.write(`write: seeding ${LONG_HISTORY} events…\n`);
    await registerPtce(ready.ledgerUrl, ready.token, 'bench-long');
    await seedLongHistory(ready.eventStoreUrl, 'bench-long', LONG_HISTORY);
    process.stderr.write(`write: peak RSS ${await peakSoFar()} MB; one PTCE with a long history…\n`);
    const long = await load(ready.ledgerUrl, ready.token, ['bench-long'], 100_000_000);
    assertClean('long_stream', long);
    report({
      bench: 'http.write.long_stream',
      value: long.perSecond,
      unit: 'req/s',
      baseline: joins.perSecond,
    });
    report({
      bench: 'http.write.long_stream.vs_single_short_ptce',
      value: long.perSecond,
      unit: 'req/s',
      baseline: short.perSecond,
    });

    const { peakRss } = await request<{ peakRss: number }>(child, { type: 'rss' }, 'rss');
    // No baseline process to compare with: the budget itself (300 MB) is the baseline, lower is better.
    report({
      bench: 'http.write.rss_mb',
      value: peakRss / 1_048_576,
      unit: 'MB',
      baseline: 300,
      better: 'lower',
    });
  } finally {
    if (child.connected) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await request(child, { type: 'stop' }, 'stopped');
      // Let it exit on its own first: a CPU profile is written at exit, not on a kill.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    }
    child.kill();
  }
}
