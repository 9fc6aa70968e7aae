/**
 * Dev probe (not a test, not a bench figure): the read bench's cold replay alone, with the bench's
 * own code (its big PTCE's history, its raw read, its cold replay), PROBE_RUNS times (3), raw read
 * and replay alternated. The file is written on the first run, aside and renamed once whole, and kept.
 * Run: node --import tsx test/dev/cold-probe.ts [/tmp/cold-probe.db]
 */
import fs from 'node:fs';
import { openEventStore } from '@ptce/event-store';
import { BIG, bigHistory, COLD_AS_OF, coldReplay, rawReadPtce } from '../bench/read.bench.ts';
import { appendHistory } from '../bench/read-history.ts';

const file = process.argv[2] ?? '/tmp/cold-probe.db';
const runs = Number(process.env.PROBE_RUNS ?? 3);
if (!fs.existsSync(file)) {
  const partial = `${file}.partial`;
  fs.rmSync(partial, { force: true });
  const store = await openEventStore(`sqlite:${partial}`);
  await appendHistory(store, BIG, bigHistory());
  await store.close();
  fs.renameSync(partial, file);
}

for (let run = 0; run < runs; run++) {
  const started = performance.now();
  const rows = rawReadPtce(file, BIG);
  const raw = rows / ((performance.now() - started) / 1000);
  const cold = await coldReplay(`sqlite:${file}`, COLD_AS_OF);
  const rate = cold.events / (cold.ms / 1000);
  console.log(
    JSON.stringify({
      events: cold.events,
      stage: cold.stage,
      ms: Math.round(cold.ms),
      rate: Math.round(rate),
      raw: Math.round(raw),
      ratio: +(rate / raw).toFixed(3),
    }),
  );
}
