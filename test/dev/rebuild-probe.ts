/**
 * Dev probe (not a test, not a bench figure): times `rebuildReadModels` over a generated log of
 * PROBE_PTCE × 10,000 events (20 by default; read only when the file is written, on the first run:
 * the file is kept), with PROBE_THREADS threads (2), against a raw read of the same rows in the
 * same run; PROBE_VERBOSE prints each PTCE as it is done. A few seconds a run where `pnpm bench read` takes ten minutes,
 * for A/B comparisons of a change to the fold (alternate the runs: the machine is noisy).
 * Run: node --import tsx test/dev/rebuild-probe.ts [/tmp/rebuild-probe.db]
 */
import fs from 'node:fs';
import { openEventStore } from '@ptce/event-store';
import { MemoryReadModels, rebuildReadModels } from '@ptce/read-models';
import Database from 'better-sqlite3';
import { DEFAULT_STAGE_RULES } from '../../packages/projections/src/index.ts';
import { appendHistory, generatePtceHistory } from '../bench/read-history.ts';

const file = process.argv[2] ?? '/tmp/rebuild-probe.db';
const ptces = Number(process.env.PROBE_PTCE ?? 20);
const threads = Number(process.env.PROBE_THREADS ?? 2);
const url = `sqlite:${file}`;
if (!fs.existsSync(file)) {
  // Written aside and renamed once whole: an interrupted run leaves no half log to reuse.
  const partial = `${file}.partial`;
  fs.rmSync(partial, { force: true });
  const store = await openEventStore(`sqlite:${partial}`, { synchronous: 'NORMAL' });
  for (let i = 0; i < ptces; i++) {
    const id = `reconstruction-${i}`;
    await appendHistory(store, id, generatePtceHistory(id, 10_000, 50_000 + i));
  }
  await store.close();
  fs.renameSync(partial, file);
}
const raw = () => {
  const t = performance.now();
  const db = new Database(file, { readonly: true });
  let n = 0;
  for (const row of db
    .prepare<[], { data: string; metadata: string | null }>('SELECT * FROM events ORDER BY global_position')
    .iterate()) {
    JSON.parse(row.data);
    if (row.metadata) JSON.parse(row.metadata);
    n++;
  }
  db.close();
  return { n, ms: performance.now() - t };
};
const r = raw();
const store = await openEventStore(url);
const cpu0 = process.cpuUsage();
const t = performance.now();
const result = await rebuildReadModels({
  store,
  models: new MemoryReadModels(),
  rules: DEFAULT_STAGE_RULES,
  threads: { count: threads, storeUrl: url },
  onProgress: (p) =>
    process.env.PROBE_VERBOSE && console.error(Math.round(performance.now() - t), p.done, p.ptceId),
});
const ms = performance.now() - t;
const cpu = process.cpuUsage(cpu0);
await store.close();
const rawRate = (r.n / r.ms) * 1000;
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
