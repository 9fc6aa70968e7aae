/**
 * Dev probe (not a test, not a bench figure): times `rebuildReadModels` over the read bench's
 * rebuild log cut to PROBE_PTCE PTCE of 10,000 events (20 by default; read only when the file is
 * written, on the first run: the file is kept), with PROBE_THREADS threads (2), against the bench's
 * raw read of the same rows in the same run; PROBE_VERBOSE prints each PTCE as it is done. A few
 * seconds a run where `pnpm bench read` takes ten minutes, for A/B comparisons of a change to the
 * fold (alternate the runs: the machine is noisy).
 * Run: node --import tsx test/dev/rebuild-probe.ts [/tmp/rebuild-probe.db]
 */
import fs from 'node:fs';
import { openEventStore } from '@ptce/event-store';
import { MemoryReadModels, rebuildReadModels } from '@ptce/read-models';
import { DEFAULT_STAGE_RULES } from '../../packages/projections/src/index.ts';
import { rawReadAll, seedRebuildStore } from '../bench/read.bench.ts';

const file = process.argv[2] ?? '/tmp/rebuild-probe.db';
const threads = Number(process.env.PROBE_THREADS ?? 2);
const url = `sqlite:${file}`;
if (!fs.existsSync(file)) {
  // Written aside and renamed once whole: an interrupted run leaves no half log to reuse.
  const partial = `${file}.partial`;
  fs.rmSync(partial, { force: true });
  await seedRebuildStore(`sqlite:${partial}`, Number(process.env.PROBE_PTCE ?? 20));
  fs.renameSync(partial, file);
}
const rawStarted = performance.now();
const rows = rawReadAll(file);
const rawRate = rows / ((performance.now() - rawStarted) / 1000);

const store = await openEventStore(url);
const cpu0 = process.cpuUsage();
const started = performance.now();
const result = await rebuildReadModels({
  store,
  models: new MemoryReadModels(),
  rules: DEFAULT_STAGE_RULES,
  threads: { count: threads, storeUrl: url },
  onProgress: (p) =>
    process.env.PROBE_VERBOSE && console.error(Math.round(performance.now() - started), p.done, p.ptceId),
});
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpu0);
await store.close();
const rate = (result.events / ms) * 1000;
console.log(
  JSON.stringify({
    events: result.events,
    ms: Math.round(ms),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    rate: Math.round(rate),
    raw: Math.round(rawRate),
    ratio: +(rate / rawRate).toFixed(3),
  }),
);
