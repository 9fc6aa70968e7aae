// Dev probe: how much each join on a 50,000-event PTCE makes flow into V8's old generation
// (promoted by scavenges, or allocated there directly), live or not. Run with the initial old
// generation limit raised so that no mark-compact runs during the joins:
// node --expose-gc --initial-old-space-size=1500 --max-old-space-size=2000 --max-semi-space-size=8 --import tsx test/dev/old-inflow.ts [N=4000]
// CONCURRENCY (32) joins in flight; INFLOW_MODE=execute (executeWrite without HTTP), live or me (a
// bare GET route) to tell the layers apart; INFLOW_PROFILE=file a sampling heap profile of what no
// scavenge collected; MID_SNAPSHOT=prefix heap snapshots halfway and at the end.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Session } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { decideMembership } from '@ptce/domain';
import { streamName } from '@ptce/events';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import { executeWrite, ledgerRepository } from '@ptce/write-side';
import { ptceTarget } from '../../packages/write-side/src/ptce.ts';

const N = Number(process.argv[2] ?? 4000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-inflow-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '1000000' });
const app = await buildStandalone(config, { logger: false });
await app.ready();
const keys = loadJwtKeys(config);
if (!keys.privateKey) throw new Error('no signing key');
const authorization = `Bearer ${await mintToken({ sub: 'probe', role: 'admin', ptces: ['*'], ttl: '2h' }, keys.privateKey, config)}`;
const r = await app.inject({
  method: 'POST',
  url: '/v1/ptces',
  headers: { authorization },
  payload: {
    ptceId: 'long',
    name: 'PTCE long',
    territory: { name: 'T' },
    pilot: { organisationId: 'pilote', name: 'Organisation pilote', category: 'ess_enterprise' },
    occurredAt: '2018-01-01',
  },
});
if (r.statusCode !== 201) throw new Error(r.body);
const stream = streamName('membership', 'long');
let revision = (await app.eventStore.streamRevision(stream)) ?? -1;
for (let done = 0; done < 50_000; done += 1000) {
  const batch = Array.from({ length: 1000 }, (_, i) => ({
    eventId: randomUUID(),
    type: 'MemberJoined',
    schemaVersion: 1,
    ptceId: 'long',
    occurredAt: '2019-01-01',
    recordedBy: 'seed',
    data: {
      organisationId: `seed-${done + i}`,
      name: `Membre historique ${done + i}`,
      category: 'ess_enterprise',
    },
  }));
  revision = (await app.eventStore.append(stream, batch, { expectedRevision: revision })).nextRevision;
}
let n = 0;
const deps = {
  store: app.eventStore,
  ledgers: ledgerRepository(app.eventStore),
  idempotency: undefined as never,
};
const join = async () => {
  const i = n++;
  // INFLOW_MODE=execute: executeWrite on a repository of the probe's own, without HTTP.
  if (process.env.INFLOW_MODE === 'execute') {
    const command = {
      type: 'JoinMember',
      organisationId: `org-${i}`,
      name: `Coopérative d'activités n° ${i}`,
      category: 'ess_enterprise',
      occurredAt: '2024-03-15',
    } as const;
    await executeWrite(deps, {
      ...ptceTarget('membership', 'long'),
      recordedBy: 'probe',
      request: command,
      decide: (ledger, now) => decideMembership(command as never, ledger, { now }),
      respond: () => ({ status: 201, body: {} }),
    });
    return;
  }
  // INFLOW_MODE=live|me: a bare route instead, to tell the HTTP pipeline's share from the write's.
  if (process.env.INFLOW_MODE) {
    const url = process.env.INFLOW_MODE === 'me' ? '/v1/me' : '/health/live';
    const res = await app.inject({ method: 'GET', url, headers: { authorization } });
    if (res.statusCode !== 200) throw new Error(res.body);
    return;
  }
  const res = await app.inject({
    method: 'POST',
    url: '/v1/ptces/long/members',
    headers: { authorization, 'content-type': 'application/json' },
    payload: JSON.stringify({
      organisationId: `org-${i}`,
      name: `Coopérative d'activités n° ${i}`,
      category: 'ess_enterprise',
      occurredAt: '2024-03-15',
      evidence: { source: 'procès-verbal du comité de pilotage' },
    }),
  });
  if (res.statusCode !== 201) throw new Error(res.body);
};
const run = (count: number) =>
  Promise.all(
    Array.from({ length: Number(process.env.CONCURRENCY ?? 32) }, async () => {
      for (const end = n + count; n < end; ) await join();
    }),
  );
await run(2000); // warm: first load, JIT
const old = () => {
  const s = v8.getHeapSpaceStatistics();
  const get = (name: string) => s.find((x) => x.space_name === name)?.space_used_size ?? 0;
  return get('old_space') + get('large_object_space') + get('code_space');
};
const lo = () =>
  v8.getHeapSpaceStatistics().find((x) => x.space_name === 'large_object_space')?.space_used_size ?? 0;
globalThis.gc?.();
const live0 = old();
const lo0 = lo();
// INFLOW_PROFILE=file: a sampling profile of what the joins allocate that no scavenge collected.
const session = new Session();
session.connect();
const post = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );
if (process.env.INFLOW_PROFILE) {
  await post('HeapProfiler.startSampling', {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
}
const t = performance.now();
if (process.env.MID_SNAPSHOT) {
  await run(N / 2);
  v8.writeHeapSnapshot(`${process.env.MID_SNAPSHOT}-mid.heapsnapshot`);
  await run(N / 2);
  globalThis.gc?.();
  v8.writeHeapSnapshot(`${process.env.MID_SNAPSHOT}-end.heapsnapshot`);
} else await run(N);
if (process.env.INFLOW_PROFILE) {
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
  fs.writeFileSync(process.env.INFLOW_PROFILE, JSON.stringify(profile));
}
const ms = performance.now() - t;
const inflow = old() - live0;
const loInflow = lo() - lo0;
globalThis.gc?.();
const live1 = old();
const kb = (b: number) => (b / N / 1024).toFixed(2);
console.log(
  JSON.stringify({
    commands: N,
    per_second: Math.round((N / ms) * 1000),
    old_inflow_kb_per_command: kb(inflow),
    held_kb_per_command: kb(live1 - live0),
    large_object_inflow_kb_per_command: kb(loInflow),
  }),
);
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
