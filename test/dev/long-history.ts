// Dev probe (not a test, not a bench figure): per-command latency and RSS of joins on a PTCE with a long history.
// Run: cd test && HIST=50000 N=10 node --import tsx dev/long-history.ts
import { randomUUID } from 'node:crypto';
// The server alone: the package's index also exports vitest assertions, which only load under vitest.
import { startTestServer } from '@ptce/testing/server';

const server = await startTestServer({ EVENT_STORE_URL: 'sqlite::memory:' });
const auth = await server.bearer('admin');
await server.app.inject({
  method: 'POST',
  url: '/v1/ptces',
  headers: { authorization: auth },
  payload: {
    ptceId: 'long',
    name: 'x',
    territory: { name: 't' },
    pilot: { organisationId: 'pilot', name: 'P', category: 'ess_enterprise' },
    occurredAt: '2018-01-01',
  },
});
const HIST = Number(process.env.HIST ?? 50000);
let rev = 0;
for (let done = 0; done < HIST; done += 1000) {
  const batch = Array.from({ length: 1000 }, (_, i) => ({
    eventId: randomUUID(),
    type: 'MemberJoined',
    schemaVersion: 1,
    ptceId: 'long',
    occurredAt: '2019-01-01',
    recordedBy: 'seed',
    data: { organisationId: `seed-${done + i}`, name: 'S', category: 'ess_enterprise' },
  }));
  rev = (await server.app.eventStore.append('membership-long', batch, { expectedRevision: rev }))
    .nextRevision;
}
const N = Number(process.env.N ?? 20);
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  const r = await server.app.inject({
    method: 'POST',
    url: `/v1/ptces/long/members`,
    headers: { authorization: auth },
    payload: { organisationId: `org-${i}`, name: 'Org', category: 'enterprise', occurredAt: '2024-03-15' },
  });
  if (r.statusCode !== 201) throw new Error(r.body);
  console.log(
    `join ${i}: ${(performance.now() - t0).toFixed(1)} ms rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`,
  );
}
await server.close();
