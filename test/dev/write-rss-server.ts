// Dev probe (not a test): the bench's write server (test/bench/write-server.ts, imported as is)
// with a memory sampler: every PROBE_SAMPLE_MS it appends one line of process.memoryUsage() and the
// V8 heap spaces to PROBE_LOG, labelled with the phase the parent last announced; on a
// {type:'snapshot', file} message it writes a heap snapshot, on {type:'gc'} it collects (needs --expose-gc).
import fs from 'node:fs';
import { Session } from 'node:inspector';
import v8 from 'node:v8';
import '../bench/write-server.ts';

const log = process.env.PROBE_LOG ?? '/tmp/write-rss-probe.log';
const mb = (n: number) => Math.round(n / 1_048_576);
let phase = 'start';
let peak = 0;
const sample = (label = phase) => {
  const u = process.memoryUsage();
  peak = Math.max(peak, u.rss);
  const spaces = Object.fromEntries(
    v8
      .getHeapSpaceStatistics()
      .filter((s) => s.space_size > 1_048_576)
      .map((s) => [s.space_name.replace('_space', ''), `${mb(s.space_used_size)}/${mb(s.space_size)}`]),
  );
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) =>
    Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024);
  fs.appendFileSync(
    log,
    `${JSON.stringify({ t: Math.round(performance.now()), phase: label, rss: mb(u.rss), peak: mb(peak), heapUsed: mb(u.heapUsed), heapTotal: mb(u.heapTotal), external: mb(u.external), ab: mb(u.arrayBuffers), anon: kb('RssAnon'), file: kb('RssFile'), ...spaces })}\n`,
  );
};
setInterval(() => sample(), Number(process.env.PROBE_SAMPLE_MS ?? 250)).unref();
// PROBE_ALLOC=file PROBE_ALLOC_PHASE=long: a sampling heap profile of every allocation (garbage
// included) made during that phase, written when the next phase starts.
const profiler = new Session();
profiler.connect();
const post = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve, reject) =>
    profiler.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );
let profiling = false;
process.on('message', async (m: { type: string; phase?: string; file?: string }) => {
  if (m.type === 'phase' && m.phase) {
    if (profiling && process.env.PROBE_ALLOC) {
      profiling = false;
      const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
      fs.writeFileSync(process.env.PROBE_ALLOC, JSON.stringify(profile));
    }
    phase = m.phase;
    if (process.env.PROBE_ALLOC && m.phase === (process.env.PROBE_ALLOC_PHASE ?? 'long')) {
      profiling = true;
      await post('HeapProfiler.startSampling', {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: process.env.PROBE_ALLOC_MINOR !== '0',
      });
    }
    sample();
  } else if (m.type === 'snapshot' && m.file) {
    v8.writeHeapSnapshot(m.file);
    sample(`snapshot ${m.file}`);
    process.send?.({ type: 'snapshotted' });
  } else if (m.type === 'gc') {
    globalThis.gc?.();
    globalThis.gc?.();
    sample(`after gc (${phase})`);
    process.send?.({ type: 'gced' });
  }
});
