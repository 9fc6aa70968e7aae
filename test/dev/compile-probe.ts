// Dev probe (not a test, not a bench figure): the cost of folding, compiling and replaying a long
// history in memory, without a store or a server. Run: cd packages/domain && node --import tsx ../../test/dev/compile-probe.ts 50000
import { randomUUID } from 'node:crypto';
import { decideMembership, evolveLedger, type FoldedEvent, initialLedger, ledgerFinal } from '@ptce/domain';

const N = Number(process.argv[2] ?? 50_000);
const base = { schemaVersion: 1, ptceId: 'p', recordedAt: '2024-01-01T00:00:00.000Z' };
const position = (i: number) => String(i).padStart(20, '0');
const envelopes: FoldedEvent[] = [
  {
    ...base,
    eventId: randomUUID(),
    type: 'PtceRegistered',
    occurredAt: '2018-01-01',
    position: position(0),
    data: {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'pilote', name: 'Pilote', category: 'ess_enterprise' },
    },
  },
];
for (let i = 0; i < N; i++) {
  envelopes.push({
    ...base,
    eventId: randomUUID(),
    type: 'MemberJoined',
    occurredAt: '2019-01-01',
    position: position(i + 1),
    data: { organisationId: `seed-${i}`, name: `Membre ${i}`, category: 'ess_enterprise' },
  });
}

let t = performance.now();
let ledger = initialLedger();
for (const e of envelopes) ledger = evolveLedger(ledger, e);
console.log(`evolve ${N + 1} events: ${(performance.now() - t).toFixed(1)} ms`);
t = performance.now();
ledgerFinal(ledger);
console.log(`first compile + replay: ${(performance.now() - t).toFixed(1)} ms`);
t = performance.now();
for (let i = 0; i < 200; i++) {
  const events = decideMembership(
    {
      type: 'JoinMember',
      organisationId: `new-${i}`,
      name: 'x',
      category: 'ess_enterprise',
      occurredAt: '2024-03-15',
    },
    ledger,
    { now: Date.now() },
  );
  for (const e of events) {
    ledger = evolveLedger(ledger, { ...base, ...e, eventId: randomUUID(), position: position(N + 10 + i) });
  }
}
console.log(`200 joins decided and folded: ${(performance.now() - t).toFixed(1)} ms`);
global.gc?.();
console.log(`heap used: ${process.memoryUsage().heapUsed >> 20} MB`);
