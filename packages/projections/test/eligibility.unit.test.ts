import type { Category, LegalForm, LegalStatus } from '@ptce/events';
import { describe, expect, it } from 'vitest';
import {
  ELIGIBILITY_CONDITIONS,
  type EligibilityConditionId,
  eligibilityAt,
  eligibilityOf,
  ledgerAt,
} from '../src/index.ts';
import { GovernanceHistory } from './governance-history.ts';

interface Spec {
  readonly pilot?: { category: Category; legalStatus?: LegalStatus };
  /** Members other than the pilot, by category, all joining on 2020-02-01. */
  readonly members: readonly Category[];
  readonly entity?: LegalForm;
}

/** Registered 2020-01-01 (pilot `pilot`); members `m1`, `m2`… on 2020-02-01; the entity on 2020-03-01. */
function build(spec: Spec): GovernanceHistory {
  const h = new GovernanceHistory();
  const pilot = spec.pilot ?? { category: 'ess_enterprise' };
  h.registerWithPilot('2020-01-01', 'pilot', pilot.category, pilot.legalStatus);
  spec.members.forEach((c, i) => {
    h.join(`m${i + 1}`, c, '2020-02-01');
  });
  if (spec.entity) h.registerEntityAs('2020-03-01', spec.entity);
  return h;
}

type Expected = Partial<Record<EligibilityConditionId, boolean | 'unknown'>>;
const ALL_HOLD: Record<EligibilityConditionId, true> = {
  private_law_carrier: true,
  three_legal_persons: true,
  ess_enterprise_member: true,
  enterprise_member: true,
  other_category_member: true,
};

const cases: { name: string; spec: Spec; expected: Expected }[] = [
  {
    name: 'an ESS pilot, an enterprise and a local authority',
    spec: { members: ['enterprise', 'local_authority'] },
    expected: {},
  },
  {
    name: 'natural persons are not legal persons',
    spec: { members: ['enterprise', 'natural_person'] },
    expected: { three_legal_persons: false, other_category_member: false },
  },
  {
    name: 'no enterprise outside the ESS',
    spec: { members: ['ess_enterprise', 'local_authority'] },
    expected: { enterprise_member: false },
  },
  {
    name: 'no ESS enterprise (an enterprise pilot)',
    spec: { pilot: { category: 'enterprise' }, members: ['enterprise', 'training_body'] },
    expected: { ess_enterprise_member: false },
  },
  {
    name: 'enterprises only',
    spec: { members: ['enterprise', 'enterprise'] },
    expected: { other_category_member: false },
  },
  {
    name: 'a local-authority pilot is not a private-law carrier',
    spec: { pilot: { category: 'local_authority' }, members: ['ess_enterprise', 'enterprise'] },
    expected: { private_law_carrier: false },
  },
  {
    name: 'a local-authority pilot recorded private still is not',
    spec: {
      pilot: { category: 'local_authority', legalStatus: 'private' },
      members: ['ess_enterprise', 'enterprise'],
    },
    expected: { private_law_carrier: false },
  },
  {
    name: 'a natural-person pilot is not a legal person',
    spec: {
      pilot: { category: 'natural_person' },
      members: ['ess_enterprise', 'enterprise', 'local_authority'],
    },
    expected: { private_law_carrier: false },
  },
  {
    name: 'a research pilot with no recorded status is unknown',
    spec: {
      pilot: { category: 'research_higher_education' },
      members: ['ess_enterprise', 'enterprise'],
    },
    expected: { private_law_carrier: 'unknown' },
  },
  {
    name: 'a research pilot recorded private carries',
    spec: {
      pilot: { category: 'research_higher_education', legalStatus: 'private' },
      members: ['ess_enterprise', 'enterprise'],
    },
    expected: {},
  },
  {
    name: 'a training-body pilot recorded public does not carry',
    spec: {
      pilot: { category: 'training_body', legalStatus: 'public' },
      members: ['ess_enterprise', 'enterprise'],
    },
    expected: { private_law_carrier: false },
  },
  {
    name: 'an ESS pilot recorded public does not carry',
    spec: {
      pilot: { category: 'ess_enterprise', legalStatus: 'public' },
      members: ['enterprise', 'local_authority'],
    },
    expected: { private_law_carrier: false },
  },
  {
    name: 'a registered SCIC carries in place of a public pilot',
    spec: {
      pilot: { category: 'local_authority' },
      members: ['ess_enterprise', 'enterprise'],
      entity: 'scic',
    },
    expected: {},
  },
  ...(['association', 'sas', 'sarl', 'scop', 'gie', 'endowment_fund', 'foundation'] as const).map((form) => ({
    name: `a registered ${form} is private law`,
    spec: {
      pilot: { category: 'local_authority' as const },
      members: ['ess_enterprise', 'enterprise'] as Category[],
      entity: form,
    },
    expected: {},
  })),
  {
    name: 'a registered entity of form other is unknown, whatever the pilot',
    spec: { members: ['enterprise', 'local_authority'], entity: 'other' },
    expected: { private_law_carrier: 'unknown' },
  },
];

describe('eligibilityAt', () => {
  it.each(cases)('$name', ({ spec, expected }) => {
    const answer = eligibilityAt(build(spec).ledger(), '2021-01-01');
    const want = { ...ALL_HOLD, ...expected };
    expect(answer.conditions.map((c) => c.id)).toEqual(ELIGIBILITY_CONDITIONS);
    for (const c of answer.conditions) {
      const w = want[c.id];
      expect({ id: c.id, holds: c.holds, unknown: c.unknown }).toEqual({
        id: c.id,
        holds: w === true,
        unknown: w === 'unknown',
      });
    }
    expect(answer.eligible).toBe(Object.values(want).every((w) => w === true));
  });

  it('an unknown carrier’s detail says what is missing', () => {
    const h = build({ pilot: { category: 'other_legal_person' }, members: ['ess_enterprise', 'enterprise'] });
    const carrier = eligibilityAt(h.ledger(), '2021-01-01').conditions[0];
    expect(carrier?.detail).toMatch(/no recorded legal status/);
    expect(carrier?.detail).toMatch(/public or private/);
  });

  it.each([
    { at: '2020-01-31', eligible: false, reason: 'the partners have not joined yet' },
    { at: '2020-02-01', eligible: true, reason: 'the partners joined that day' },
    { at: '2020-06-01', eligible: false, reason: 'the enterprise left' },
  ])('at $at: $reason', ({ at, eligible }) => {
    const h = build({ members: ['enterprise', 'local_authority'] });
    h.leave('m1', '2020-05-01');
    expect(eligibilityAt(h.ledger(), at).eligible).toBe(eligible);
  });

  it('a pilot handed over: the new pilot carries', () => {
    const h = build({ pilot: { category: 'local_authority' }, members: ['ess_enterprise', 'enterprise'] });
    h.handOver('m1', 'pilot', '2020-06-01');
    expect(eligibilityAt(h.ledger(), '2020-05-31').eligible).toBe(false);
    expect(eligibilityAt(h.ledger(), '2020-06-01').eligible).toBe(true);
  });

  it('a PTCE not registered at t is not eligible, and every condition says so', () => {
    const h = build({ members: ['enterprise', 'local_authority'] });
    const answer = eligibilityAt(h.ledger(), '2019-12-31');
    expect(answer.eligible).toBe(false);
    expect(answer.conditions).toHaveLength(5);
    for (const c of answer.conditions) {
      expect(c.holds).toBe(false);
      expect(c.detail).toMatch(/not registered/);
    }
  });

  it('is the same answer from the replayed state', () => {
    const ledger = build({ members: ['enterprise', 'local_authority'] }).ledger();
    expect(eligibilityOf(ledgerAt(ledger, '2021-01-01'), '2021-01-01')).toEqual(
      eligibilityAt(ledger, '2021-01-01'),
    );
  });
});
