// Dev probe (not a test, not a bench figure): the write server's heap after the 100-PTCE joins phase
// of `pnpm bench write`, as a V8 heap snapshot to open in DevTools or summarise with
// test/dev/heap-summary.ts. Run: node --expose-gc --import tsx test/dev/heap-after-joins.ts [out.heapsnapshot]
// JOINS (default 20000) joins, 32 in flight, round-robin over 100 PTCE, each a new organisation;
// `-` as the file skips the snapshot (memory figures only).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Session } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { streamName } from '@ptce/events';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';

const JOINS = Number(process.env.JOINS ?? 20_000);
const IN_FLIGHT = 32;
const out = process.argv[2] ?? path.join(os.tmpdir(), `ptce-after-joins-${process.pid}.heapsnapshot`);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-heap-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000' });
const app = await buildStandalone(config, { logger: false });
await app.ready();
const keys = loadJwtKeys(config);
if (!keys.privateKey) throw new Error('no signing key');
const authorization = `Bearer ${await mintToken({ sub: 'probe', role: 'admin', ptces: ['*'], ttl: '2h' }, keys.privateKey, config)}`;
const mb = (n: number) => Math.round(n / 1_048_576);
const usage = (label: string) => {
  globalThis.gc?.();
  const u = process.memoryUsage();
  process.stderr.write(`${label}: rss ${mb(u.rss)} MB, heap ${mb(u.heapUsed)}/${mb(u.heapTotal)} MB\n`);
};

const ptceIds = Array.from({ length: 100 }, (_, i) => `bench-${i}`);
for (const ptceId of ptceIds) {
  const r = await app.inject({
    method: 'POST',
    url: '/v1/ptces',
    headers: { authorization },
    payload: {
      ptceId,
      name: `PTCE ${ptceId}`,
      territory: { name: 'Territoire de banc d’essai' },
      pilot: { organisationId: 'pilote', name: 'Organisation pilote', category: 'ess_enterprise' },
      occurredAt: '2018-01-01',
    },
  });
  if (r.statusCode !== 201) throw new Error(`register ${ptceId}: ${r.statusCode} ${r.body}`);
}
usage('100 PTCE registered');

// ALLOC_PROFILE=file.heapprofile: a sampling profile of every allocation during the joins, garbage
// included, to tell which code allocates what the GC then has to sweep.
const profiler = process.env.ALLOC_PROFILE ? new Session() : undefined;
const post = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve, reject) =>
    profiler?.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );
if (profiler) {
  profiler.connect();
  await post('HeapProfiler.startSampling', {
    samplingInterval: 32_768,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

const started = performance.now();
let next = 0;
const worker = async () => {
  while (next < JOINS) {
    const n = next++;
    const r = await app.inject({
      method: 'POST',
      url: `/v1/ptces/${ptceIds[n % ptceIds.length]}/members`,
      headers: { authorization },
      payload: {
        organisationId: `org-${n}`,
        name: `Coopérative d'activités n° ${n}`,
        category: 'ess_enterprise',
        occurredAt: '2024-03-15',
        evidence: { source: 'procès-verbal du comité de pilotage' },
      },
    });
    if (r.statusCode !== 201) throw new Error(`join ${n}: ${r.statusCode} ${r.body}`);
  }
};
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
if (profiler && process.env.ALLOC_PROFILE) {
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
  fs.writeFileSync(process.env.ALLOC_PROFILE, JSON.stringify(profile));
  profiler.disconnect();
}
usage(`${JOINS} joins in ${Math.round(performance.now() - started)} ms`);
for (const space of v8.getHeapSpaceStatistics()) {
  process.stderr.write(
    `  ${space.space_name.padEnd(24)} size ${mb(space.space_size)} MB, used ${mb(space.space_used_size)} MB\n`,
  );
}
// Resident memory outside the JS heap, by mapping: the heap's pages, the code, the native allocations.
if (fs.existsSync('/proc/self/smaps')) {
  const byKind = new Map<string, number>();
  let kind = '';
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) kind = header[1] === '' ? '[anonymous]' : (header[1] ?? '').replace(/.*\//, '');
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) byKind.set(kind, (byKind.get(kind) ?? 0) + Number(rss[1]) * 1024);
  }
  for (const [name, bytes] of [...byKind].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    process.stderr.write(`  rss ${name.padEnd(30)} ${mb(bytes)} MB\n`);
  }
}
// LONG_HISTORY=n: then a PTCE with n events written straight to the store, as the bench seeds it,
// and 100 joins on it: what serving a long history keeps.
const longHistory = Number(process.env.LONG_HISTORY ?? 0);
if (longHistory > 0) {
  const register = await app.inject({
    method: 'POST',
    url: '/v1/ptces',
    headers: { authorization },
    payload: {
      ptceId: 'bench-long',
      name: 'PTCE bench-long',
      territory: { name: 'Territoire de banc d’essai' },
      pilot: { organisationId: 'pilote', name: 'Organisation pilote', category: 'ess_enterprise' },
      occurredAt: '2018-01-01',
    },
  });
  if (register.statusCode !== 201) throw new Error(`register bench-long: ${register.body}`);
  const stream = streamName('membership', 'bench-long');
  let revision = (await app.eventStore.streamRevision(stream)) ?? -1;
  for (let done = 0; done < longHistory; ) {
    const batch = Array.from({ length: Math.min(1_000, longHistory - done) }, (_, i) => ({
      eventId: randomUUID(),
      type: 'MemberJoined',
      schemaVersion: 1,
      ptceId: 'bench-long',
      occurredAt: '2019-01-01',
      recordedBy: 'bench-seed',
      data: {
        organisationId: `seed-${done + i}`,
        name: `Membre historique ${done + i}`,
        category: 'ess_enterprise',
      },
    }));
    revision = (await app.eventStore.append(stream, batch, { expectedRevision: revision })).nextRevision;
    done += batch.length;
  }
  usage(`${longHistory} events seeded`);
  for (let n = 0; n < 100; n++) {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/ptces/bench-long/members',
      headers: { authorization },
      payload: {
        organisationId: `long-${n}`,
        name: `Membre ${n}`,
        category: 'ess_enterprise',
        occurredAt: '2024-03-15',
      },
    });
    if (r.statusCode !== 201) throw new Error(`join bench-long: ${r.statusCode} ${r.body}`);
  }
  usage('100 joins on the long history');
}
if (out !== '-') {
  v8.writeHeapSnapshot(out);
  process.stderr.write(`snapshot: ${out}\n`);
}
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
