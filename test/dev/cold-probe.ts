/**
 * Dev probe (not a test, not a bench figure): the read bench's cold replay alone — `loadLedger` of
 * a generated 100,000-event PTCE and `stageAt`, against a raw read of its rows in the same run —
 * PROBE_RUNS times (3), alternated. The file is written on the first run and kept.
 * Run: node --import tsx test/dev/cold-probe.ts [/tmp/cold-probe.db]
 */
import fs from 'node:fs';
import { openEventStore } from '@ptce/event-store';
import { ptceStreams } from '@ptce/events';
import { loadLedger } from '@ptce/read-models';
import Database from 'better-sqlite3';
import { DEFAULT_STAGE_RULES, stageAt } from '../../packages/projections/src/index.ts';
import { appendHistory, generatePtceHistory } from '../bench/read-history.ts';

const file = process.argv[2] ?? '/tmp/cold-probe.db';
const runs = Number(process.env.PROBE_RUNS ?? 3);
const ptceId = 'grand-pole';
/** The valid time the read bench asks the cold replay's stage at. */
const AS_OF = '2026-06-01';
const url = `sqlite:${file}`;
if (!fs.existsSync(file)) {
  // Written aside and renamed once whole: an interrupted run leaves no half history to reuse.
  const partial = `${file}.partial`;
  fs.rmSync(partial, { force: true });
  const store = await openEventStore(`sqlite:${partial}`);
  await appendHistory(store, ptceId, generatePtceHistory(ptceId, 100_000, 7));
  await store.close();
  fs.renameSync(partial, file);
}

function raw(): number {
  const started = performance.now();
  const db = new Database(file, { readonly: true });
  const streams = ptceStreams(ptceId);
  const rows = db
    .prepare<string[], { data: string; metadata: string | null }>(
      `SELECT * FROM events WHERE stream IN (${streams.map(() => '?').join(',')}) ORDER BY global_position`,
    )
    .all(...streams);
  for (const row of rows) {
    JSON.parse(row.data);
    if (row.metadata) JSON.parse(row.metadata);
  }
  db.close();
  return rows.length / ((performance.now() - started) / 1000);
}

for (let run = 0; run < runs; run++) {
  const baseline = raw();
  const store = await openEventStore(url);
  const started = performance.now();
  const { ledger } = await loadLedger(store, ptceId, { kind: 'knownAt', at: Number.POSITIVE_INFINITY });
  const answer = stageAt(ledger, AS_OF, DEFAULT_STAGE_RULES);
  const ms = performance.now() - started;
  await store.close();
  const rate = ledger.size / (ms / 1000);
  console.log(
    JSON.stringify({
      events: ledger.size,
      stage: answer.stage,
      ms: Math.round(ms),
      rate: Math.round(rate),
      raw: Math.round(baseline),
      ratio: +(rate / baseline).toFixed(3),
    }),
  );
}
