import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CompiledLedger,
  type Cut,
  compileLedger,
  type DecideContext,
  DomainError,
  decideDecisions,
  decideMembership,
  decideWorkingGroups,
  type EventToAppend,
  evolveLedger,
  foldLedger,
  initialLedger,
  type Ledger,
  ledgerFinal,
  replayLedger,
  visitFacts,
} from '../src/index.ts';
import { newWarnings, warningsIfAppended } from '../src/ledger/dry-run.ts';
import { ledgerEvents } from '../src/ledger/log.ts';
import { replay } from '../src/ledger/replay.ts';
import {
  addRaw,
  cutArb,
  dates,
  lateRawArb,
  orgs,
  rawArb,
  registeredLog,
  spaces,
  tailRawArb,
  VOTE,
} from './raw-history.ts';

// The reference: a from-scratch fold of the same log, on a fresh list the incremental path never saw.
const scratch = (l: Ledger): CompiledLedger => compileLedger(foldLedger(ledgerEvents(l)));

function expectSameCompiled(a: CompiledLedger, b: CompiledLedger): void {
  expect(a.facts).toEqual(b.facts);
  expect(a.warnings).toEqual(b.warnings);
  expect([...a.known.values()]).toEqual([...b.known.values()]);
  // A map by id: its iteration order is no part of the contract.
  expect(a.factsById).toEqual(b.factsById);
  expect(a.ptceId).toBe(b.ptceId);
  expect(a.lastPosition).toBe(b.lastPosition);
}

/** What a step of the simulated service does with the ledger between two appends. */
type Probe =
  | { readonly kind: 'none' }
  | { readonly kind: 'replay'; readonly cut: Cut }
  | { readonly kind: 'stale'; readonly back: number }
  /** A visit of the facts (a stage timeline), stopped after `stopAfter` facts or never. */
  | { readonly kind: 'visit'; readonly stopAfter: number | null };

const probeArb: fc.Arbitrary<Probe> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Probe>({ kind: 'none' }) },
  { weight: 3, arbitrary: cutArb.map((cut): Probe => ({ kind: 'replay', cut })) },
  { weight: 1, arbitrary: fc.nat(5).map((back): Probe => ({ kind: 'stale', back })) },
  {
    weight: 2,
    arbitrary: fc.option(fc.nat(40), { nil: null }).map((stopAfter): Probe => ({ kind: 'visit', stopAfter })),
  },
);

describe('incremental ledger = from-scratch fold (properties)', () => {
  it('compiled facts, warnings and replayed states match at every step, including stale readers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lateRawArb, probeArb), { maxLength: 40 }),
        fc.array(cutArb, { minLength: 1, maxLength: 4 }),
        (steps, cuts) => {
          const log = registeredLog();
          let ledger = evolveLedger(initialLedger(), log.events[0]!);
          const history: Ledger[] = [ledger];
          for (const [raw, probe] of steps) {
            ledger = evolveLedger(ledger, addRaw(log, raw));
            history.push(ledger);
            if (probe.kind === 'replay') {
              expect(replayLedger(ledger, probe.cut)).toEqual(replay(scratch(ledger), probe.cut));
            } else if (probe.kind === 'visit') {
              // A visit that goes through every fact leaves its state as the final one: it must be
              // the final state a replay gives, now and once longer ledgers have been folded.
              visitFacts(ledger, (_fact, _state, index) =>
                probe.stopAfter === null ? undefined : index + 1 < probe.stopAfter,
              );
              expect(ledgerFinal(ledger)).toEqual(replay(scratch(ledger), { kind: 'all' }));
            } else if (probe.kind === 'stale') {
              const old = history[Math.max(0, history.length - 1 - probe.back)]!;
              expectSameCompiled(compileLedger(old), scratch(old));
              expect(ledgerFinal(old)).toEqual(replay(scratch(old), { kind: 'all' }));
            }
          }
          const reference = scratch(ledger);
          expectSameCompiled(compileLedger(ledger), reference);
          expect(ledgerFinal(ledger).warnings).toEqual(replay(reference, { kind: 'all' }).warnings);
          for (const cut of cuts) expect(replayLedger(ledger, cut)).toEqual(replay(reference, cut));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the warnings that appending events would raise are those of a full refold, tail or backdated', () => {
    fc.assert(
      fc.property(
        fc.array(rawArb, { maxLength: 30 }),
        fc.oneof(
          fc.array(tailRawArb, { minLength: 1, maxLength: 2 }),
          fc.array(lateRawArb, { minLength: 1, maxLength: 3 }),
        ),
        fc.boolean(),
        (history, extra, warm) => {
          const log = registeredLog();
          let ledger = evolveLedger(initialLedger(), log.events[0]!);
          for (const r of history) {
            ledger = evolveLedger(ledger, addRaw(log, r));
            if (warm) ledgerFinal(ledger);
          }
          const size = log.events.length;
          for (const r of extra) addRaw(log, r);
          const pending = log.events.slice(size);
          const naive = newWarnings(
            ledgerFinal(foldLedger(log.events.slice(0, size))).warnings,
            ledgerFinal(foldLedger(log.events)).warnings,
          );
          const finalBefore = replay(scratch(ledger), { kind: 'all' });
          expect(warningsIfAppended(ledger, pending)).toEqual(naive);
          // The dry run leaves the ledger's own state untouched.
          expect(ledgerFinal(ledger)).toEqual(finalBefore);
        },
      ),
      {
        numRuns: 600,
        // Found by CI: an annulment recorded before its decision, which then moves it to its date.
        examples: [
          [
            [
              { type: 'DecisionAnnulled', org: 'a', space: 's1', at: '2019-12-31', ref: 0 },
              { type: 'DecisionRecorded', org: 'a', space: 's1', at: '2020-01-01', ref: 0 },
            ],
            [{ type: 'MemberJoined', org: 'a', space: 's1', at: '2019-12-31', ref: 0 }],
            true,
          ],
          // Found by a full run: the same annulment, its decision appended after it, unwarmed.
          [
            [{ type: 'DecisionAnnulled', org: 'a', space: 's1', at: '2019-12-31', ref: 0 }],
            [{ type: 'DecisionRecorded', org: 'a', space: 's1', at: '2020-02-01', ref: 0 }],
            false,
          ],
        ],
      },
    );
  });
});

// Commands a secretary might send, valid or not: the deciders must answer as on a fresh fold.
type Cmd =
  | { readonly family: 'membership'; readonly command: Parameters<typeof decideMembership>[0] }
  | { readonly family: 'groups'; readonly command: Parameters<typeof decideWorkingGroups>[0] }
  | { readonly family: 'decisions'; readonly command: Parameters<typeof decideDecisions>[0] };

const orgArb = fc.constantFrom(...orgs);
const spaceArb = fc.constantFrom(...spaces);
const commandDateArb = fc.constantFrom(
  ...dates,
  '2022-06-01',
  '2024-06-01',
  '2024-06-01T09:00:00Z',
  '2024-06-05',
);

// A RetractEvent names `ref`, replaced at run time by an event of the log picked by index.
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ org: orgArb, at: commandDateArb }).map(
    ({ org, at }): Cmd => ({
      family: 'membership',
      command: { type: 'JoinMember', organisationId: org, name: org, category: 'enterprise', occurredAt: at },
    }),
  ),
  fc.record({ org: orgArb, at: commandDateArb }).map(
    ({ org, at }): Cmd => ({
      family: 'membership',
      command: { type: 'LeaveMember', organisationId: org, occurredAt: at },
    }),
  ),
  fc.record({ org: orgArb, at: commandDateArb }).map(
    ({ org, at }): Cmd => ({
      family: 'membership',
      command: { type: 'HandOverPilot', organisationId: org, occurredAt: at },
    }),
  ),
  fc.record({ org: orgArb, at: commandDateArb }).map(
    ({ org, at }): Cmd => ({
      family: 'membership',
      command: { type: 'CorrectMembership', organisationId: org, fields: { joinedAt: at }, reason: 'r' },
    }),
  ),
  fc.constant<Cmd>({ family: 'membership', command: { type: 'RetractEvent', eventId: 'ref', reason: 'r' } }),
  fc.record({ space: spaceArb, at: commandDateArb }).map(
    ({ space, at }): Cmd => ({
      family: 'groups',
      command: { type: 'OpenSpace', spaceId: space, kind: 'strategic', name: space, occurredAt: at },
    }),
  ),
  fc.record({ space: spaceArb, at: commandDateArb }).map(
    ({ space, at }): Cmd => ({
      family: 'groups',
      command: { type: 'CloseSpace', spaceId: space, occurredAt: at },
    }),
  ),
  fc.record({ space: spaceArb, org: orgArb, at: commandDateArb }).map(
    ({ space, org, at }): Cmd => ({
      family: 'groups',
      command: { type: 'EnrolMember', spaceId: space, organisationId: org, occurredAt: at },
    }),
  ),
  fc.record({ space: spaceArb, org: orgArb, at: commandDateArb }).map(
    ({ space, org, at }): Cmd => ({
      family: 'groups',
      command: { type: 'WithdrawFromSpace', spaceId: space, organisationId: org, occurredAt: at },
    }),
  ),
  fc.record({ space: spaceArb, org: orgArb, at: commandDateArb }).map(
    ({ space, org, at }): Cmd => ({
      family: 'groups',
      command: {
        type: 'HoldMeeting',
        spaceId: space,
        meetingId: `m-${org}`,
        attendees: [org],
        occurredAt: at,
      },
    }),
  ),
  fc.record({ space: spaceArb, org: orgArb, at: commandDateArb }).map(
    ({ space, org, at }): Cmd => ({
      family: 'groups',
      command: {
        type: 'LaunchActivity',
        activityId: `x-${space}`,
        name: 'x',
        carriers: [org],
        occurredAt: at,
      },
    }),
  ),
  fc.record({ space: spaceArb, at: commandDateArb }).map(
    ({ space, at }): Cmd => ({
      family: 'groups',
      command: { type: 'EndActivity', activityId: `x-${space}`, occurredAt: at },
    }),
  ),
  fc.record({ space: spaceArb, org: orgArb, at: commandDateArb }).map(
    ({ space, org, at }): Cmd => ({
      family: 'decisions',
      command: {
        type: 'RecordDecision',
        decisionId: `d-${org}`,
        spaceId: space,
        present: [org],
        title: 't',
        kind: 'general',
        vote: VOTE,
        occurredAt: at,
      },
    }),
  ),
  fc.record({ org: orgArb, at: commandDateArb }).map(
    ({ org, at }): Cmd => ({
      family: 'decisions',
      command: { type: 'CorrectDecision', decisionId: `d-${org}`, fields: { decidedAt: at }, reason: 'r' },
    }),
  ),
  fc.record({ org: orgArb, at: commandDateArb }).map(
    ({ org, at }): Cmd => ({
      family: 'decisions',
      command: { type: 'AnnulDecision', decisionId: `d-${org}`, reason: 'r', occurredAt: at },
    }),
  ),
);

function decide(cmd: Cmd, ledger: Ledger, ctx: DecideContext): EventToAppend[] {
  switch (cmd.family) {
    case 'membership':
      return decideMembership(cmd.command, ledger, ctx);
    case 'groups':
      return decideWorkingGroups(cmd.command, ledger, ctx);
    case 'decisions':
      return decideDecisions(cmd.command, ledger, ctx);
  }
}

type Outcome =
  | { readonly events: EventToAppend[] }
  | { readonly refused: string }
  | { readonly threw: string };

function outcome(run: () => EventToAppend[]): Outcome {
  try {
    return { events: run() };
  } catch (err) {
    return err instanceof DomainError ? { refused: err.code } : { threw: String(err) };
  }
}

describe('deciders on the incremental ledger (properties)', () => {
  it('answer every command as on a fresh fold of the same log, and the log they grow folds the same', () => {
    const ctx: DecideContext = { now: Date.parse('2024-06-01T12:00:00Z') };
    fc.assert(
      fc.property(
        fc.array(rawArb, { maxLength: 12 }),
        fc.array(fc.tuple(cmdArb, fc.nat(1000)), { maxLength: 30 }),
        (history, commands) => {
          const log = registeredLog();
          for (const r of history) addRaw(log, r);
          let ledger = foldLedger(log.events);
          for (const [given, ref] of commands) {
            const cmd: Cmd =
              given.family === 'membership' && given.command.type === 'RetractEvent'
                ? {
                    ...given,
                    command: { ...given.command, eventId: log.events[ref % log.events.length]!.eventId },
                  }
                : given;
            const incremental = outcome(() => decide(cmd, ledger, ctx));
            const fresh = outcome(() => decide(cmd, foldLedger(log.events), ctx));
            expect(incremental).toEqual(fresh);
            if ('events' in incremental) {
              for (const e of incremental.events) {
                ledger = evolveLedger(ledger, log.add(e.type, e.occurredAt, { ...e.data }));
              }
            }
          }
          const reference = scratch(ledger);
          expectSameCompiled(compileLedger(ledger), reference);
          expect(ledgerFinal(ledger)).toEqual(replay(reference, { kind: 'all' }));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('query results are values (properties)', () => {
  it('a compiled ledger and its replays still hold, exactly, once a longer ledger of the same log is compiled and queried', () => {
    const ctx: DecideContext = { now: Date.parse('2024-06-01T12:00:00Z') };
    fc.assert(
      fc.property(
        fc.array(rawArb, { maxLength: 30 }),
        fc.array(lateRawArb, { minLength: 1, maxLength: 5 }),
        cutArb,
        cutArb,
        orgArb,
        (history, extra, cut, laterCut, joiner) => {
          const log = registeredLog();
          for (const r of history) addRaw(log, r);
          const ledger = foldLedger(log.events);
          const compiled = compileLedger(ledger);
          const atCut = replayLedger(ledger, cut);
          const final = ledgerFinal(ledger);

          // The same log grown, compiled, replayed and decided on, as a writer or a reader would.
          let longer = ledger;
          for (const r of extra) {
            longer = evolveLedger(longer, addRaw(log, r));
            compileLedger(longer);
            replayLedger(longer, laterCut);
            ledgerFinal(longer);
            outcome(() =>
              decideMembership(
                {
                  type: 'JoinMember',
                  organisationId: joiner,
                  name: joiner,
                  category: 'enterprise',
                  occurredAt: '2024-06-01',
                },
                longer,
                ctx,
              ),
            );
          }

          const reference = scratch(ledger);
          expectSameCompiled(compiled, reference);
          expect(atCut).toEqual(replay(reference, cut));
          expect(final).toEqual(replay(reference, { kind: 'all' }));
          // Asked again, the shorter ledger answers the same.
          expect(replayLedger(ledger, cut)).toEqual(replay(reference, cut));
        },
      ),
      { numRuns: 300 },
    );
  });
});
