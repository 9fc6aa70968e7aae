import {
  compileLedger,
  decideMembership,
  decideWorkingGroups,
  type EventToAppend,
  evolveLedger,
  foldLedger,
  type Ledger,
  ledgerFinal,
} from '@ptce/domain';
import { type AppendResult, type EventStore, openEventStore } from '@ptce/event-store';
import {
  type EventEnvelope,
  type EventType,
  eventCatalog,
  type NewEvent,
  ptceStreams,
  streamName,
} from '@ptce/events';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { type LedgerRepository, ledgerRepository } from '../src/index.ts';

const PTCE = 'p';
const STREAMS = ptceStreams(PTCE);
const MEMBERSHIP = streamName('membership', PTCE);
const WORKGROUPS = streamName('workgroups', PTCE);
const NOW = Date.parse('2024-06-01T00:00:00Z');

type Op =
  | { readonly kind: 'join' | 'leave'; readonly org: string; readonly day: string }
  | { readonly kind: 'correct'; readonly org: string; readonly day: string | undefined }
  | { readonly kind: 'retract'; readonly of: number }
  | { readonly kind: 'open'; readonly space: string; readonly day: string }
  | { readonly kind: 'enrol'; readonly space: string; readonly org: string; readonly day: string }
  /** A join whose event id another PTCE's event has: the store refuses it, this ledger knows nothing of it. */
  | { readonly kind: 'clash'; readonly org: string; readonly day: string }
  /** Sends again the events an answered command appended: same ids, same content (a retried append). */
  | { readonly kind: 'replay'; readonly of: number };

const org = fc.constantFrom('b', 'c', 'd', 'e', 'f');
const space = fc.constantFrom('s1', 's2');
const day = fc
  .tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 28 }))
  .map(([m, d]) => `2020-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('join' as const), org, day }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), org, day }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('correct' as const),
      org,
      day: fc.option(day, { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retract' as const), of: fc.nat(1_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('open' as const), space, day }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('enrol' as const), space, org, day }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), of: fc.nat(1_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clash' as const), org, day }) },
);

/** A command before command `i` (itself for the first: nothing to retract or replay). */
const earlier = (of: number, i: number) => (i === 0 ? 0 : of % i);

const membershipOp = op.filter((o) => o.kind !== 'open' && o.kind !== 'enrol');

const streamOf = (ops: readonly Op[], i: number): string => {
  const o = ops[i]!;
  if (o.kind === 'replay') return earlier(o.of, i) === i ? MEMBERSHIP : streamOf(ops, earlier(o.of, i));
  return o.kind === 'open' || o.kind === 'enrol' ? WORKGROUPS : MEMBERSHIP;
};

function domainEvents(o: Exclude<Op, { kind: 'replay' }>, i: number, ledger: Ledger): EventToAppend[] {
  const ctx = { now: NOW };
  switch (o.kind) {
    case 'join':
    case 'clash':
      return decideMembership(
        { type: 'JoinMember', organisationId: o.org, name: o.org, category: 'enterprise', occurredAt: o.day },
        ledger,
        ctx,
      );
    case 'leave':
      return decideMembership({ type: 'LeaveMember', organisationId: o.org, occurredAt: o.day }, ledger, ctx);
    case 'correct':
      return decideMembership(
        {
          type: 'CorrectMembership',
          organisationId: o.org,
          fields: o.day ? { joinedAt: o.day } : { name: `${o.org} corrigé` },
          reason: 'r',
        },
        ledger,
        ctx,
      );
    case 'retract':
      return decideMembership(
        { type: 'RetractEvent', eventId: `c${earlier(o.of, i)}-0`, reason: 'r' },
        ledger,
        ctx,
      );
    case 'open':
      return decideWorkingGroups(
        { type: 'OpenSpace', spaceId: o.space, kind: 'operational', name: o.space, occurredAt: o.day },
        ledger,
        ctx,
      );
    case 'enrol':
      return decideWorkingGroups(
        { type: 'EnrolMember', spaceId: o.space, organisationId: o.org, occurredAt: o.day },
        ledger,
        ctx,
      );
  }
}

const seeded = (
  eventId: string,
  type: EventType,
  occurredAt: string,
  data: Record<string, unknown>,
): NewEvent => ({
  eventId,
  type,
  schemaVersion: 1,
  ptceId: PTCE,
  occurredAt,
  recordedBy: 'test',
  data,
});

/** Stored before the commands run: a registered PTCE with a member and an open space. */
async function seed(store: EventStore): Promise<void> {
  await store.append(
    streamName('membership', 'q'),
    [
      {
        ...seeded('elsewhere', 'MemberJoined', '2020-01-02', {
          organisationId: 'b',
          name: 'B',
          category: 'enterprise',
        }),
        ptceId: 'q',
      },
    ],
    { expectedRevision: 'no_stream' },
  );
  await store.append(
    MEMBERSHIP,
    [
      seeded('registration', 'PtceRegistered', '2020-01-01', {
        name: 'P',
        territory: { name: 'T' },
        pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
      }),
      seeded('joined-b', 'MemberJoined', '2020-01-02', {
        organisationId: 'b',
        name: 'B',
        category: 'enterprise',
      }),
    ],
    { expectedRevision: 'no_stream' },
  );
  await store.append(
    WORKGROUPS,
    [
      seeded('opened-s1', 'SpaceOpened', '2020-01-03', {
        spaceId: 's1',
        kind: 'operational',
        name: 'S1',
        rules: { quorum: 0.5, majority: 'simple' },
      }),
    ],
    { expectedRevision: 'no_stream' },
  );
}

/** What each command last decided, and what those answered appended: a replay resends the latter. */
interface Decisions {
  readonly last: Map<number, NewEvent[]>;
  readonly answered: Map<number, NewEvent[]>;
}

const decisions = (): Decisions => ({ last: new Map(), answered: new Map() });

/** Runs command `i` of `ops` through the repository. */
function run(repo: LedgerRepository<Ledger>, ops: readonly Op[], i: number, decided: Decisions) {
  return repo
    .append(STREAMS, streamOf(ops, i), ({ state }) => {
      const o = ops[i]!;
      if (o.kind === 'replay') {
        const again = decided.answered.get(earlier(o.of, i));
        if (!again) throw Object.assign(new Error('nothing to replay'), { code: 'nothing_to_replay' });
        return again;
      }
      const events = domainEvents(o, i, state).map(
        (e, j): NewEvent => ({
          eventId: o.kind === 'clash' && j === 0 ? 'elsewhere' : `c${i}-${j}`,
          type: e.type,
          schemaVersion: eventCatalog[e.type as EventType].schemaVersion,
          ptceId: PTCE,
          occurredAt: e.occurredAt,
          recordedBy: 'test',
          data: e.data,
        }),
      );
      decided.last.set(i, events);
      return events;
    })
    .then((result) => {
      const mine = decided.last.get(i);
      if (mine) decided.answered.set(i, mine);
      return result;
    });
}

const outcome = (settled: PromiseSettledResult<AppendResult>) =>
  settled.status === 'fulfilled'
    ? {
        nextRevision: settled.value.nextRevision,
        events: settled.value.events.map((e) => [
          e.eventId,
          e.stream,
          e.revision,
          e.type,
          e.occurredAt,
          e.data,
        ]),
      }
    : { refused: (settled.reason as { code?: string }).code ?? String(settled.reason) };

const stored = (events: readonly EventEnvelope[]) =>
  events.map((e) => [e.eventId, e.stream, e.revision, e.type, e.occurredAt, e.data]);

/** The repository's cached ledger is the one a fresh fold of the store gives, settled and compiled the same. */
async function expectCacheMatchesStore(repo: LedgerRepository<Ledger>, store: EventStore): Promise<void> {
  const { state } = await repo.load(STREAMS);
  const fresh = foldLedger((await store.readAll()).filter((e) => e.ptceId === PTCE));
  // Borrowed, as a decider reads it: a compiled ledger returned by compileLedger is copied before
  // it is handed over, and the handover is what this checks last.
  const cached = state.cache.borrowCompiled(state);
  const expected = compileLedger(fresh);
  expect(cached.facts).toEqual(expected.facts);
  expect(cached.warnings).toEqual(expected.warnings);
  expect([...cached.known.keys()]).toEqual([...expected.known.keys()]);
  expect(ledgerFinal(state)).toEqual(ledgerFinal(fresh));
  // The compiled ledger is still handed over to the next event, not compiled again from scratch.
  const next = evolveLedger(state, {
    eventId: 'probe',
    type: 'RecognitionGranted',
    schemaVersion: 1,
    ptceId: PTCE,
    occurredAt: '2023-01-01',
    data: { programme: 'x', grantor: 'y' },
    position: '\uffff',
    recordedAt: new Date(NOW).toISOString(),
  });
  expect(next.cache.borrowCompiled(next)).toBe(cached);
}

test('commands queued in random batches give the answers, events and ledger of the same commands one by one', async () => {
  await fc.assert(
    fc.asyncProperty(
      // Half the histories stay on one stream: a command of another stream ends a batch.
      fc.oneof(
        fc.array(op, { minLength: 6, maxLength: 30 }),
        fc.array(membershipOp, { minLength: 6, maxLength: 30 }),
      ),
      fc.integer({ min: 1, max: 6 }),
      fc.array(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
        ),
        { minLength: 30, maxLength: 30 },
      ),
      fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
      async (ops, maxBatch, pauses, failures) => {
        const one = await openEventStore('sqlite::memory:');
        const many = await openEventStore('sqlite::memory:');
        try {
          await seed(one);
          await seed(many);

          const sequential = ledgerRepository(one);
          const alone: PromiseSettledResult<AppendResult>[] = [];
          const decidedAlone = decisions();
          for (let i = 0; i < ops.length; i++) {
            alone.push(...(await Promise.allSettled([run(sequential, ops, i, decidedAlone)])));
          }

          // Some appends of several commands fail as a whole: their commands go again one by one.
          let failure = 0;
          const flaky: EventStore = {
            ...many,
            append: (s, events, o) => {
              const commands = new Set(events.map((e) => e.eventId.split('-')[0]));
              if (commands.size > 1 && failures[failure++ % failures.length]) {
                return Promise.reject(new Error('transient'));
              }
              return many.append(s, events, o);
            },
            readStream: (s, o) => many.readStream(s, o),
          };
          const batched = ledgerRepository(flaky, { maxBatch });
          const decidedBatched = decisions();
          const pending: Promise<PromiseSettledResult<AppendResult>>[] = [];
          for (let i = 0; i < ops.length; i++) {
            const o = ops[i]!;
            // A retry comes once its first attempt was answered: one sent while it runs is refused
            // before it reaches the repository (idempotency_key_in_flight).
            if (o.kind === 'replay') await pending[earlier(o.of, i)];
            // Settled as they come: a refusal must not wait unobserved for the last command.
            pending.push(
              run(batched, ops, i, decidedBatched).then(
                (value) => ({ status: 'fulfilled', value }) as const,
                (reason: unknown) => ({ status: 'rejected', reason }) as const,
              ),
            );
            // Some arrive while an append is being written, some together.
            for (let p = 0; p < pauses[i]!; p++) await new Promise((r) => setImmediate(r));
          }
          const together = await Promise.all(pending);

          expect(together.map(outcome)).toEqual(alone.map(outcome));
          expect(stored(await many.readAll())).toEqual(stored(await one.readAll()));
          await expectCacheMatchesStore(sequential, one);
          await expectCacheMatchesStore(batched, many);
        } finally {
          await one.close();
          await many.close();
        }
      },
    ),
    { numRuns: 200 },
  );
}, 120_000);
