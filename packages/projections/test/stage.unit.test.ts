import type { Category } from '@ptce/events';
import { describe, expect, it } from 'vitest';
import {
  assessStage,
  type CriterionId,
  DEFAULT_STAGE_RULES,
  ledgerAt,
  monthsBefore,
  rulesVersion,
  type Stage,
  type StageRules,
  stageAt,
  stageOf,
  stageRules,
} from '../src/index.ts';
import { memberIds, StageHistory } from './stage-history.ts';

interface GroupSpec {
  /** Active members other than the pilot, all enterprises unless `lastPartnerCategory` says otherwise. */
  readonly partners: number;
  /** How many of [pilot, ...partners], in that order, sit in the strategic space. */
  readonly steering: number;
  readonly lastPartnerCategory?: Category;
  readonly entity?: boolean;
  /** How many of [pilot, ...partners], in that order, are associates of the entity. */
  readonly associates?: number;
}

/** Registered on 2020-01-01; partners join on 2020-02-01, seats on 2020-03-01, the entity on 2020-04-01. */
function group(spec: GroupSpec): StageHistory {
  const h = new StageHistory();
  h.register('2020-01-01');
  const partners = memberIds('p', spec.partners);
  partners.forEach((id, i) => {
    const last = i === partners.length - 1;
    h.join(id, last && spec.lastPartnerCategory ? spec.lastPartnerCategory : 'enterprise', '2020-02-01');
  });
  const everyone = ['pilot', ...partners];
  h.openSpace('copil', 'strategic', '2020-03-01');
  for (const id of everyone.slice(0, spec.steering)) h.enrol('copil', id, '2020-03-01');
  if (spec.entity) {
    h.registerEntity('2020-04-01');
    for (const id of everyone.slice(0, spec.associates ?? 0)) h.admitAssociate(id, '2020-04-01');
  }
  return h;
}

const T = '2020-06-01';

describe('stage: one row per threshold boundary (default rules)', () => {
  it.each<{
    name: string;
    spec: GroupSpec;
    at?: string;
    rules?: StageRules;
    stage: Stage;
    criterion?: { id: CriterionId; holds: boolean; value: number | boolean; threshold: number | boolean };
  }>([
    {
      name: 'not registered yet at t',
      spec: { partners: 2, steering: 3 },
      at: '2019-12-31',
      stage: 'not_started',
      criterion: { id: 'min_partners', holds: false, value: 0, threshold: 2 },
    },
    {
      name: 'N = minPartners − 1',
      spec: { partners: 1, steering: 2 },
      stage: 'individual_impulse',
      criterion: { id: 'min_partners', holds: false, value: 1, threshold: 2 },
    },
    {
      name: 'N = minPartners',
      spec: { partners: 2, steering: 3 },
      stage: 'collective_group',
      criterion: { id: 'min_partners', holds: true, value: 2, threshold: 2 },
    },
    {
      name: 'N = minPartners, nobody steering',
      spec: { partners: 2, steering: 0 },
      stage: 'divided_groups',
      criterion: { id: 'steering_share', holds: false, value: 0, threshold: 0.9 },
    },
    {
      name: 'steering share just below 0.9 (17 of 20)',
      spec: { partners: 19, steering: 17 },
      stage: 'divided_groups',
      criterion: { id: 'steering_share', holds: false, value: 0.85, threshold: 0.9 },
    },
    {
      name: 'steering share at 0.9 (18 of 20)',
      spec: { partners: 19, steering: 18 },
      stage: 'collective_group',
      criterion: { id: 'steering_share', holds: true, value: 0.9, threshold: 0.9 },
    },
    {
      name: 'steering share at 0.9 (9 of 10) but a category without a steering member',
      spec: { partners: 9, steering: 9, lastPartnerCategory: 'local_authority' },
      stage: 'divided_groups',
      criterion: { id: 'all_categories_steering', holds: false, value: 2 / 3, threshold: 1 },
    },
    {
      name: 'every category steering',
      spec: { partners: 9, steering: 10, lastPartnerCategory: 'local_authority' },
      stage: 'collective_group',
      criterion: { id: 'all_categories_steering', holds: true, value: 1, threshold: 1 },
    },
    {
      name: 'collective, no legal entity registered',
      spec: { partners: 9, steering: 10 },
      stage: 'collective_group',
      criterion: { id: 'entity_registered', holds: false, value: false, threshold: true },
    },
    {
      name: 'legal entity registered, associate share below 0.5 (4 of 10)',
      spec: { partners: 9, steering: 10, entity: true, associates: 4 },
      stage: 'collective_group',
      criterion: { id: 'associate_share', holds: false, value: 0.4, threshold: 0.5 },
    },
    {
      name: 'legal entity registered, associate share at 0.5 (5 of 10)',
      spec: { partners: 9, steering: 10, entity: true, associates: 5 },
      stage: 'effective',
      criterion: { id: 'entity_registered', holds: true, value: true, threshold: true },
    },
    {
      name: 'entity and every associate, but the steering is not shared',
      spec: { partners: 9, steering: 8, entity: true, associates: 10 },
      stage: 'divided_groups',
      criterion: { id: 'associate_share', holds: true, value: 1, threshold: 0.5 },
    },
    {
      name: 'minPartners 3: two partners are still an impulse',
      spec: { partners: 2, steering: 3 },
      rules: stageRules({ minPartners: 3 }),
      stage: 'individual_impulse',
      criterion: { id: 'min_partners', holds: false, value: 2, threshold: 3 },
    },
  ])('$name → $stage', ({ spec, at, rules, stage, criterion }) => {
    const ledger = group(spec).ledger();
    const answer = stageAt(ledger, at ?? T, rules);
    expect(answer.stage).toBe(stage);
    expect(answer.rulesVersion).toBe(rulesVersion(rules ?? DEFAULT_STAGE_RULES));
    if (criterion) {
      const found = answer.criteria.find((c) => c.id === criterion.id);
      const { value, ...rest } = criterion;
      expect(found).toMatchObject(rest);
      // Shares are quotients: 2/3 is compared as the same quotient, exact values exactly.
      if (typeof value === 'number') expect(found?.value).toBeCloseTo(value, 12);
      else expect(found?.value).toBe(value);
    }
  });

  it('reports every criterion, in order, with labels in both languages', () => {
    const answer = stageAt(group({ partners: 2, steering: 3 }).ledger(), T);
    expect(answer.criteria.map((c) => c.id)).toEqual([
      'min_partners',
      'all_categories_steering',
      'steering_share',
      'entity_registered',
      'associate_share',
    ]);
    expect(answer.label).toEqual({ fr: 'Groupe collectif', en: 'Collective group' });
    expect(answer.since).toBe('2020-03-01');
    expect(stageAt(group({ partners: 2, steering: 3 }).ledger(), '2019-01-01')).toMatchObject({
      stage: 'not_started',
      label: { fr: 'Non démarré', en: 'Not started' },
      since: null,
    });
  });

  it('a departed pilot leaves no pilot to exclude: every member is a partner', () => {
    const h = group({ partners: 1, steering: 0 });
    h.join('q', 'enterprise', '2020-02-01');
    h.leave('pilot', '2020-05-01');
    const answer = stageAt(h.ledger(), T);
    expect(answer.criteria[0]).toMatchObject({ id: 'min_partners', value: 2, holds: true });
  });
});

describe('stage: stalled individual impulse', () => {
  /** The pilot registered long before; one partner (N = 1) joined on `lastJoin`. */
  const impulse = (lastJoin: string) => {
    const h = new StageHistory();
    h.register('2021-06-01');
    h.join('a', 'enterprise', lastJoin);
    return h.ledger();
  };

  it.each([
    ['12 months minus a day', '2023-01-15', '2024-01-14', false],
    ['exactly 12 months', '2023-01-15', '2024-01-15', true],
    ['more than 12 months', '2023-01-15', '2024-06-01', true],
    ['exactly 12 months, t an instant of that Paris day', '2023-01-15', '2024-01-15T00:30:00+01:00', true],
    ['12 months minus a day, t late that Paris day', '2023-01-15', '2024-01-14T23:30:00+01:00', false],
    ['29 February back 12 months is 28 February', '2023-02-28', '2024-02-29', true],
    ['28 February back 12 months', '2023-02-28', '2024-02-28', true],
    ['27 February back 12 months', '2023-02-28', '2024-02-27', false],
  ])('%s (last join %s, t %s) → stalled %s', (_, lastJoin, at, stalled) => {
    const answer = stageAt(impulse(lastJoin), at);
    expect(answer.stage).toBe('individual_impulse');
    expect(answer.lastJoinDay).toBe(lastJoin);
    expect(answer.stalled).toBe(stalled);
  });

  it('the registration is the pilot joining; a member who left still joined', () => {
    const h = new StageHistory();
    h.register('2021-06-01');
    expect(stageAt(h.ledger(), '2022-05-31').stalled).toBe(false);
    expect(stageAt(h.ledger(), '2022-06-01').stalled).toBe(true);
    h.join('a', 'enterprise', '2022-03-01');
    h.leave('a', '2022-04-01');
    expect(stageAt(h.ledger(), '2023-02-28')).toMatchObject({ lastJoinDay: '2022-03-01', stalled: false });
    expect(stageAt(h.ledger(), '2023-03-01').stalled).toBe(true);
  });

  it('only an individual impulse stalls', () => {
    const answer = stageAt(group({ partners: 2, steering: 0 }).ledger(), '2030-01-01');
    expect(answer.stage).toBe('divided_groups');
    expect(answer.stalled).toBe(false);
  });

  it('honours stalledAfterMonths', () => {
    const rules = stageRules({ stalledAfterMonths: 1 });
    // From 2023-02-28 the window starts on 2023-01-28: the join of 2023-01-31 is inside it.
    expect(stageAt(impulse('2023-01-31'), '2023-02-28', rules).stalled).toBe(false);
    expect(stageAt(impulse('2023-01-31'), '2023-03-01', rules).stalled).toBe(true);
    expect(stageAt(impulse('2023-01-15'), '2023-02-14', rules).stalled).toBe(false);
    expect(stageAt(impulse('2023-01-15'), '2023-02-15', rules).stalled).toBe(true);
  });
});

describe('monthsBefore', () => {
  it.each([
    ['2024-01-15', 12, '2023-01-15'],
    ['2024-02-29', 12, '2023-02-28'],
    ['2024-02-29', 48, '2020-02-29'],
    ['2024-03-31', 1, '2024-02-29'],
    ['2023-03-31', 1, '2023-02-28'],
    ['2024-05-31', 1, '2024-04-30'],
    ['2024-01-31', 2, '2023-11-30'],
    ['2024-01-10', 13, '2022-12-10'],
    ['2000-03-30', 1, '2000-02-29'],
    ['1900-03-30', 1, '1900-02-28'],
  ])('%s back %i months is %s', (day, months, expected) => {
    expect(monthsBefore(day, months)).toBe(expected);
  });
});

describe('stage: core, periphery and outside', () => {
  it('splits the active members by the kinds of spaces they sit in', () => {
    const h = new StageHistory();
    h.register('2020-01-01');
    h.join('a', 'enterprise', '2020-01-01');
    h.join('b', 'local_authority', '2020-01-01');
    h.join('c', 'enterprise', '2020-01-01');
    h.join('d', 'enterprise', '2020-01-01');
    h.join('gone', 'enterprise', '2020-01-01');
    h.openSpace('conseil', 'governance', '2020-02-01');
    h.openSpace('gt', 'operational', '2020-02-01');
    h.openSpace('old', 'strategic', '2020-02-01');
    for (const id of ['pilot', 'a', 'c']) h.enrol('gt', id, '2020-02-01');
    for (const id of ['a', 'c', 'b']) h.enrol('conseil', id, '2020-02-01');
    h.enrol('old', 'pilot', '2020-02-01');
    h.enrol('gt', 'gone', '2020-02-01');
    h.log.add('SpaceClosed', '2020-03-01', { spaceId: 'old' });
    h.leave('gone', '2020-03-01');
    const answer = assessStage(ledgerAt(h.ledger(), '2020-03-01'), '2020-03-01');
    expect(answer).toMatchObject({
      core: ['a', 'c'],
      periphery: ['pilot'],
      steeringOnly: ['b'],
      outside: ['d'],
      coreDominantCategory: { category: 'enterprise', share: 1 },
    });
  });

  it('breaks a tie between categories of the core by name, and has no dominant category for an empty core', () => {
    const h = new StageHistory();
    h.register('2020-01-01', 'pilot', 'local_authority');
    h.join('a', 'enterprise', '2020-01-01');
    h.openSpace('copil', 'strategic', '2020-02-01');
    h.openSpace('gt', 'operational', '2020-02-01');
    expect(stageAt(h.ledger(), '2020-02-01').coreDominantCategory).toBeNull();
    for (const id of ['pilot', 'a']) {
      h.enrol('copil', id, '2020-02-01');
      h.enrol('gt', id, '2020-02-01');
    }
    expect(stageAt(h.ledger(), '2020-02-01').coreDominantCategory).toEqual({
      category: 'enterprise',
      share: 0.5,
    });
  });
});

describe('stage rules', () => {
  it('defaults are stage-rules/v1; other thresholds get a version of their own', () => {
    expect(rulesVersion(DEFAULT_STAGE_RULES)).toBe('stage-rules/v1');
    expect(rulesVersion(stageRules())).toBe('stage-rules/v1');
    expect(rulesVersion({ ...DEFAULT_STAGE_RULES })).toBe('stage-rules/v1');
    const three = rulesVersion(stageRules({ minPartners: 3 }));
    expect(three).toMatch(/^stage-rules\/v1\+[0-9a-f]{12}$/);
    expect(rulesVersion(stageRules({ collectiveShare: 0.8 }))).not.toBe(three);
    expect(rulesVersion(stageRules({ stalledAfterMonths: 6 }))).not.toBe(three);
    // The same thresholds, however given, publish the same version.
    expect(
      rulesVersion({ stalledAfterMonths: 12, minAssociateShare: 0.5, collectiveShare: 0.9, minPartners: 3 }),
    ).toBe(three);
  });

  it.each<[string, Partial<StageRules>]>([
    ['minPartners 0', { minPartners: 0 }],
    ['minPartners 1.5', { minPartners: 1.5 }],
    ['collectiveShare above 1', { collectiveShare: 1.1 }],
    ['minAssociateShare below 0', { minAssociateShare: -0.1 }],
    ['collectiveShare NaN', { collectiveShare: Number.NaN }],
    ['stalledAfterMonths 0', { stalledAfterMonths: 0 }],
    ['an unknown threshold', { quorum: 1 } as Partial<StageRules>],
  ])('refuses %s', (_, overrides) => {
    expect(() => stageRules(overrides)).toThrow();
    expect(() => rulesVersion({ ...DEFAULT_STAGE_RULES, ...overrides })).toThrow();
  });

  it('accepts the bounds of the ranges', () => {
    expect(() =>
      stageRules({ minPartners: 1, collectiveShare: 0, minAssociateShare: 1, stalledAfterMonths: 1 }),
    ).not.toThrow();
  });
});

describe('steering seats: a member seated in several steering spaces counts once', () => {
  // The pilot and nine partners of two categories; `seated` of them, the pilot first, sit in every
  // one of `spaces` open steering spaces. Collective needs 90 % of the members seated: counting a
  // member once per space would reach it with 8 of 10 seated.
  const cases: { spaces: number; seated: number; stage: Stage }[] = [2, 4, 5, 8].flatMap((spaces) => [
    { spaces, seated: 8, stage: 'divided_groups' as const },
    { spaces, seated: 9, stage: 'collective_group' as const },
  ]);
  it.each(cases)('$seated of 10 seated in each of $spaces spaces: $stage', ({ spaces, seated, stage }) => {
    const h = new StageHistory();
    h.register('2020-01-01');
    const partners = memberIds('m', 9);
    partners.forEach((id, i) => {
      h.join(id, i % 2 ? 'local_authority' : 'enterprise', '2020-01-02');
    });
    const seatedIds = ['pilot', ...partners].slice(0, seated);
    for (let s = 0; s < spaces; s++) {
      h.openSpace(`steering-${s}`, s % 2 ? 'governance' : 'strategic', '2020-01-03');
      for (const id of seatedIds) h.enrol(`steering-${s}`, id, '2020-01-04');
    }
    const state = ledgerAt(h.ledger(), '2020-02-01');
    expect(assessStage(state, '2020-02-01').stage).toBe(stage);
    expect(stageOf(state)).toBe(stage);
  });
});
