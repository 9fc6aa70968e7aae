// Dev probe (not a test): the phases of test/bench/write.bench.ts, with its loads, its server being test/dev/write-rss-server.ts
// (memory samples in PROBE_LOG, by phase), PROBE_ARGS extra node flags for it, PROBE_SNAPSHOT=dir heap
// snapshots at the end of each phase, PROBE_PHASES=long to skip to the long history.
// Run: flock /tmp/ptce-bench.lock node --import tsx test/dev/write-rss-probe.ts
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../bench/report.ts';
import { startFlags } from '../bench/start-flags.ts';
import {
  assertClean,
  type Load,
  load,
  type Ready,
  registerPtce,
  request,
  seedLongHistory,
} from '../bench/write.bench.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PTCE_COUNT = 100;
const LONG_HISTORY = 50_000;
const here = path.dirname(fileURLToPath(import.meta.url));
/** PROBE_AMOUNT_*: that many requests in the phase instead of the bench's BENCH_JOINS. */
const amountOf = (value: string | undefined): number | undefined => Number(value ?? 0) || undefined;

export async function run(report: Report): Promise<void> {
  process.stderr.write(
    `write: server started as \`pnpm start\` starts it: ${startFlags().join(' ') || 'no V8 flags'}\n`,
  );
  const child = fork(path.join(here, 'write-rss-server.ts'), [], {
    // BENCH_PROFILE_DIR=dir: the server writes a V8 CPU profile there when it stops.
    execArgv: [
      ...startFlags(),
      ...(process.env.PROBE_ARGS ? process.env.PROBE_ARGS.split(' ') : []),
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
    const phase = async (name: string) => {
      if (process.env.PROBE_SNAPSHOT) {
        await request(
          child,
          { type: 'snapshot', file: `${process.env.PROBE_SNAPSHOT}/before-${name}.heapsnapshot` },
          'snapshotted',
        );
      }
      if (process.env.PROBE_GC) await request(child, { type: 'gc' }, 'gced');
      child.send({ type: 'phase', phase: name });
    };
    const only = process.env.PROBE_PHASES ?? 'all';
    await phase('register');
    const ptceIds = Array.from({ length: PTCE_COUNT }, (_, i) => `bench-${i}`);
    for (const id of ptceIds) await registerPtce(ready.ledgerUrl, ready.token, id);

    // The machine is shared and noisy: alternate baseline and ledger rounds, keep each one's best.
    let baseline: Load | undefined;
    let joins: Load | undefined;
    await phase('joins');
    for (let round = 0; round < (only === 'long' ? 0 : ROUNDS); round++) {
      const b = await load(ready.baselineUrl, ready.token, ptceIds, round * 1_000_000);
      assertClean('baseline', b);
      const j = await load(
        ready.ledgerUrl,
        ready.token,
        ptceIds,
        round * 1_000_000,
        false,
        amountOf(process.env.PROBE_AMOUNT_JOINS),
      );
      assertClean('member_join', j);
      if (!baseline || b.perSecond > baseline.perSecond) baseline = b;
      if (!joins || j.perSecond > joins.perSecond) joins = j;
    }
    baseline ??= { perSecond: 1, p99: 1, errors: 0, non2xx: 0 };
    joins ??= baseline;
    report({
      bench: 'http.write.member_join',
      value: joins.perSecond,
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
    await phase('short');
    await registerPtce(ready.ledgerUrl, ready.token, 'bench-short');
    const short = await load(
      ready.ledgerUrl,
      ready.token,
      ['bench-short'],
      200_000_000,
      false,
      amountOf(process.env.PROBE_AMOUNT_SHORT),
    );
    assertClean('single_ptce', short);
    process.stderr.write(`write: seeding ${LONG_HISTORY} events…\n`);
    await phase('seed');
    await registerPtce(ready.ledgerUrl, ready.token, 'bench-long');
    await seedLongHistory(ready.eventStoreUrl, 'bench-long', LONG_HISTORY);
    process.stderr.write(`write: peak RSS ${await peakSoFar()} MB; one PTCE with a long history…\n`);
    // PROBE_WARM=1: one join first, so that the long phase's profile holds commands, not the first load.
    if (process.env.PROBE_WARM) {
      await phase('first-load');
      await load(ready.ledgerUrl, ready.token, ['bench-long'], 300_000_000, false, 32);
    }
    await phase('long');
    const long = await load(
      ready.ledgerUrl,
      ready.token,
      ['bench-long'],
      100_000_000,
      false,
      amountOf(process.env.PROBE_AMOUNT_LONG),
    );
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

    await phase('end');
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

await run((figure) => process.stdout.write(`${JSON.stringify(figure)}\n`));
