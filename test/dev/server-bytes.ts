// Dev probe: heap bytes the standalone server keeps per event of a PTCE, for joins written
// through it (as `pnpm bench write` sends them) and for a history it loads from the store.
// Run: node --expose-gc --import tsx test/dev/server-bytes.ts [JOINS=10000] [SEEDED=50000]
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { streamName } from '@ptce/events';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';

const JOINS = Number(process.argv[2] ?? 10_000);
const SEEDED = Number(process.argv[3] ?? 50_000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-bytes-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000' });
const app = await buildStandalone(config, { logger: false });
await app.ready();
const keys = loadJwtKeys(config);
if (!keys.privateKey) throw new Error('no signing key');
const authorization = `Bearer ${await mintToken({ sub: 'probe', role: 'admin', ptces: ['*'], ttl: '2h' }, keys.privateKey, config)}`;
const heap = () => {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  return process.memoryUsage().heapUsed;
};
const register = async (ptceId: string) => {
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
  if (r.statusCode !== 201) throw new Error(r.body);
};
const join = async (ptceId: string, n: number) => {
  const r = await app.inject({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/members`,
    headers: { authorization },
    payload: {
      organisationId: `org-${n}`,
      name: `Coopérative d'activités n° ${n}`,
      category: 'ess_enterprise',
      occurredAt: '2024-03-15',
      evidence: { source: 'procès-verbal du comité de pilotage' },
    },
  });
  if (r.statusCode !== 201) throw new Error(r.body);
};
await register('written');
for (let n = 0; n < 200; n++) await join('written', n);
const h0 = heap();
if (process.env.SNAPSHOT_BEFORE) v8.writeHeapSnapshot(process.env.SNAPSHOT_BEFORE);
let next = 200;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < JOINS + 200) await join('written', next++);
  }),
);
const h1 = heap();
if (process.env.SNAPSHOT_WRITTEN) v8.writeHeapSnapshot(process.env.SNAPSHOT_WRITTEN);
console.log(
  `written through the server: ${((h1 - h0) / JOINS).toFixed(0)} B/event (${((h1 - h0) / 1_048_576).toFixed(1)} MB)`,
);

await register('seeded');
const stream = streamName('membership', 'seeded');
let revision = (await app.eventStore.streamRevision(stream)) ?? -1;
for (let done = 0; done < SEEDED; ) {
  const batch = Array.from({ length: Math.min(1_000, SEEDED - done) }, (_, i) => ({
    eventId: randomUUID(),
    type: 'MemberJoined',
    schemaVersion: 1,
    ptceId: 'seeded',
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
const h2 = heap();
await join('seeded', 1);
const h3 = heap();
console.log(
  `loaded from the store: ${((h3 - h2) / SEEDED).toFixed(0)} B/event (${((h3 - h2) / 1_048_576).toFixed(1)} MB)`,
);
if (process.env.SNAPSHOT) console.log(v8.writeHeapSnapshot(process.env.SNAPSHOT));
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
