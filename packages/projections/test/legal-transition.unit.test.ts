import type { LegalForm } from '@ptce/events';
import { describe, expect, it } from 'vitest';
import { type LegalPhase, ledgerAt, legalTransitionAt, legalTransitionOf } from '../src/index.ts';
import { GovernanceHistory } from './governance-history.ts';

/**
 * Registered 2020-01-01 with an ESS pilot and three partners; a strategic space `copil`, a
 * governance space `ca` and an operational space `wg`, all opened on 2020-01-02.
 */
function base(): GovernanceHistory {
  const h = new GovernanceHistory();
  h.register('2020-01-01');
  h.join('ent', 'enterprise', '2020-01-01');
  h.join('city', 'local_authority', '2020-01-01');
  h.join('lab', 'research_higher_education', '2020-01-01');
  h.openSpace('copil', 'strategic', '2020-01-02');
  h.openSpace('ca', 'governance', '2020-01-02');
  h.openSpace('wg', 'operational', '2020-01-02');
  return h;
}

interface Case {
  readonly name: string;
  readonly build: (h: GovernanceHistory) => void;
  readonly at: string;
  readonly phase: LegalPhase;
  readonly legalForm: LegalForm | null;
  readonly steps: readonly [string, string, string | null][];
}

const cases: Case[] = [
  { name: 'nothing decided', build: () => {}, at: '2021-01-01', phase: 'none', legalForm: null, steps: [] },
  {
    name: 'a study opened in the strategic space',
    build: (h) => h.decide('d1', 'copil', '2020-02-01', { step: 'study_opened', legalForm: 'association' }),
    at: '2021-01-01',
    phase: 'exploring',
    legalForm: 'association',
    steps: [['exploring', '2020-02-01', 'd1']],
  },
  {
    name: 'a study opened in an operational space does not count',
    build: (h) => h.decide('d1', 'wg', '2020-02-01', { step: 'study_opened' }),
    at: '2021-01-01',
    phase: 'none',
    legalForm: null,
    steps: [],
  },
  {
    name: 'a rejected decision does not count',
    build: (h) => h.decide('d1', 'copil', '2020-02-01', { step: 'study_opened', outcome: 'rejected' }),
    at: '2021-01-01',
    phase: 'none',
    legalForm: null,
    steps: [],
  },
  {
    name: 'a decision without quorum does not count',
    build: (h) => h.decide('d1', 'ca', '2020-02-01', { step: 'form_chosen', outcome: 'no_quorum' }),
    at: '2021-01-01',
    phase: 'none',
    legalForm: null,
    steps: [],
  },
  {
    name: 'a decision of another kind does not count',
    build: (h) => h.decide('d1', 'copil', '2020-02-01', { kind: 'general' }),
    at: '2021-01-01',
    phase: 'none',
    legalForm: null,
    steps: [],
  },
  {
    name: 'an annulled decision no longer counts once annulled',
    build: (h) => {
      h.decide('d1', 'copil', '2020-02-01', { step: 'form_chosen' });
      h.annul('d1', '2020-06-01');
    },
    at: '2021-01-01',
    phase: 'none',
    legalForm: null,
    steps: [],
  },
  {
    name: 'an annulled decision still counts before its annulment',
    build: (h) => {
      h.decide('d1', 'copil', '2020-02-01', { step: 'form_chosen' });
      h.annul('d1', '2020-06-01');
    },
    at: '2020-05-31',
    phase: 'form_chosen',
    legalForm: 'scic',
    steps: [['form_chosen', '2020-02-01', 'd1']],
  },
  {
    name: 'a decision after t is not yet counted',
    build: (h) => h.decide('d1', 'copil', '2020-02-01', { step: 'study_opened' }),
    at: '2020-01-31',
    phase: 'none',
    legalForm: null,
    steps: [],
  },
  {
    name: 'steps may be skipped: statutes adopted in governance with no study recorded',
    build: (h) => h.decide('d1', 'ca', '2020-03-01', { step: 'statutes_adopted', legalForm: 'sas' }),
    at: '2021-01-01',
    phase: 'statutes_adopted',
    legalForm: 'sas',
    steps: [['statutes_adopted', '2020-03-01', 'd1']],
  },
  {
    name: 'the legal form is the latest counted decision’s, the step date the first decision’s',
    build: (h) => {
      h.decide('d1', 'copil', '2020-02-01', { step: 'study_opened', legalForm: 'association' });
      h.decide('d2', 'copil', '2020-03-01', { step: 'form_chosen', legalForm: 'scic' });
      h.decide('d3', 'ca', '2020-04-01', { step: 'form_chosen', legalForm: 'sas' });
      h.decide('d4', 'wg', '2020-05-01', { step: 'form_chosen', legalForm: 'gie' });
    },
    at: '2021-01-01',
    phase: 'form_chosen',
    legalForm: 'sas',
    steps: [
      ['exploring', '2020-02-01', 'd1'],
      ['form_chosen', '2020-03-01', 'd2'],
    ],
  },
  {
    name: 'registered: the entity’s form replaces the decided one',
    build: (h) => {
      h.decide('d1', 'copil', '2020-02-01', { step: 'study_opened', legalForm: 'association' });
      h.decide('d2', 'ca', '2020-03-01', { step: 'statutes_adopted', legalForm: 'association' });
      h.registerEntityAs('2020-09-01', 'scic');
    },
    at: '2021-01-01',
    phase: 'registered',
    legalForm: 'scic',
    steps: [
      ['exploring', '2020-02-01', 'd1'],
      ['statutes_adopted', '2020-03-01', 'd2'],
      ['registered', '2020-09-01', null],
    ],
  },
  {
    name: 'registered with no decision at all',
    build: (h) => h.registerEntityAs('2020-09-01', 'scop'),
    at: '2021-01-01',
    phase: 'registered',
    legalForm: 'scop',
    steps: [['registered', '2020-09-01', null]],
  },
  {
    name: 'before the registration date the decided form is reported',
    build: (h) => {
      h.decide('d2', 'ca', '2020-03-01', { step: 'statutes_adopted', legalForm: 'association' });
      h.registerEntityAs('2020-09-01', 'scic');
    },
    at: '2020-08-31',
    phase: 'statutes_adopted',
    legalForm: 'association',
    steps: [['statutes_adopted', '2020-03-01', 'd2']],
  },
];

describe('legalTransitionAt', () => {
  it.each(cases)('$name', ({ build, at, phase, legalForm, steps }) => {
    const h = base();
    build(h);
    const answer = legalTransitionAt(h.ledger(), at);
    expect(answer.phase).toBe(phase);
    expect(answer.legalForm).toBe(legalForm);
    expect(answer.steps.map((s) => [s.step, s.date, s.decisionId])).toEqual(steps);
  });

  it.each([
    { at: '2020-08-31', count: 0, share: 0, byCollege: {}, withoutCollege: 0 },
    { at: '2020-09-01', count: 3, share: 3 / 4, byCollege: { founders: 2 }, withoutCollege: 1 },
    // `lab` left: it is no longer an associate, and there are three active members.
    { at: '2020-12-01', count: 2, share: 2 / 3, byCollege: { founders: 1 }, withoutCollege: 1 },
  ])('associates at $at', ({ at, count, share, byCollege, withoutCollege }) => {
    const h = base();
    h.registerEntityAs('2020-09-01', 'scic');
    h.admitIn('pilot', '2020-09-01', 'founders');
    h.admitIn('lab', '2020-09-01', 'founders');
    h.admitIn('city', '2020-09-01');
    h.leave('lab', '2020-11-01');
    const answer = legalTransitionAt(h.ledger(), at);
    expect(answer.associates).toEqual({ count, share, byCollege, withoutCollege });
    expect(answer.entity?.legalForm ?? null).toBe(count > 0 ? 'scic' : null);
  });

  it('is a pure function of the state: the same answer from the replayed state', () => {
    const h = base();
    h.decide('d1', 'copil', '2020-02-01', { step: 'study_opened' });
    const ledger = h.ledger();
    expect(legalTransitionOf(ledgerAt(ledger, '2021-01-01'), '2021-01-01')).toEqual(
      legalTransitionAt(ledger, '2021-01-01'),
    );
  });

  it('a PTCE not registered at t has reached no phase', () => {
    const h = base();
    const answer = legalTransitionAt(h.ledger(), '2019-12-31');
    expect(answer).toEqual({
      phase: 'none',
      legalForm: null,
      entity: null,
      associates: { count: 0, share: 0, byCollege: {}, withoutCollege: 0 },
      steps: [],
    });
  });
});
