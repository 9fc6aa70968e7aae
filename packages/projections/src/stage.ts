import type { LedgerState, SpaceState } from '@ptce/domain';
import {
  type Category,
  categorySchema,
  daysBetween,
  parisDay,
  type SpaceKind,
  type ValidTime,
} from '@ptce/events';
import { DEFAULT_STAGE_RULES, rulesVersion, type StageRules } from './stage-rules.ts';

/*
 * The creation stage of a PTCE, read from the ledger state at a valid time t. In plain words:
 *
 * - A PTCE that is not registered at t has not started.
 * - Registered, it is an individual impulse while fewer than `minPartners` active members other
 *   than the pilot organisation have joined it: one organisation is carrying the idea.
 * - With enough partners it is at least a group. It is a collective group when the steering is
 *   shared: every category of member present (enterprises, local authorities, training
 *   bodies…) has at least one member seated in a steering space (an open strategic or
 *   governance space), and at least `collectiveShare` of the active members sit in one.
 *   Otherwise the partners are there but the steering is not shared: divided groups.
 * - A collective group becomes an effective PTCE once it has a shared legal entity registered
 *   and at least `minAssociateShare` of its active members are associates of that entity.
 *
 * The stages are ordered but the ledger is not a ratchet: a PTCE falls back as soon as the state
 * no longer meets a stage's criteria (a new member without a steering seat can turn a collective
 * group back into divided groups).
 *
 * Also reported, never deciding the stage: whether an individual impulse has stalled (no member
 * joined within `stalledAfterMonths` before t), and the core and periphery of the participation.
 */

export type Stage =
  | 'not_started'
  | 'individual_impulse'
  | 'divided_groups'
  | 'collective_group'
  | 'effective';

/** Stages in the order a PTCE climbs them. */
export const STAGES: readonly Stage[] = Object.freeze([
  'not_started',
  'individual_impulse',
  'divided_groups',
  'collective_group',
  'effective',
]);

export interface StageLabel {
  readonly fr: string;
  readonly en: string;
}

export const STAGE_LABELS: Readonly<Record<Stage, StageLabel>> = Object.freeze({
  not_started: { fr: 'Non démarré', en: 'Not started' },
  individual_impulse: { fr: 'Impulsion individuelle', en: 'Individual impulse' },
  divided_groups: { fr: 'Groupes divisés', en: 'Divided groups' },
  collective_group: { fr: 'Groupe collectif', en: 'Collective group' },
  effective: { fr: 'PTCE effectif', en: 'Effective PTCE' },
});

export type CriterionId =
  | 'min_partners'
  | 'all_categories_steering'
  | 'steering_share'
  | 'entity_registered'
  | 'associate_share';

/** One test of the rules, with what was measured and what it was measured against. */
export type Criterion =
  | {
      readonly id: Exclude<CriterionId, 'entity_registered'>;
      readonly holds: boolean;
      readonly value: number;
      readonly threshold: number;
    }
  | {
      readonly id: 'entity_registered';
      readonly holds: boolean;
      readonly value: boolean;
      readonly threshold: true;
    };

export interface CategoryShare {
  readonly category: Category;
  /** Members of that category in the core, over the core's size. */
  readonly share: number;
}

/** The stage at one valid time, with the criteria that placed it and the shape of the participation. */
export interface StageAssessment {
  readonly rulesVersion: string;
  readonly at: ValidTime;
  readonly stage: Stage;
  readonly label: StageLabel;
  /** Every criterion, in the order the stages use them, whatever the stage reached. */
  readonly criteria: readonly Criterion[];
  /** An individual impulse with no member joining in the `stalledAfterMonths` before t. */
  readonly stalled: boolean;
  /** The Paris day the latest membership at t began (the pilot's counts, from the registration), or null. */
  readonly lastJoinDay: string | null;
  /** Active members seated in both a steering and an operational space. */
  readonly core: readonly string[];
  /** Active members seated in operational spaces only. */
  readonly periphery: readonly string[];
  /**
   * Active members seated in steering spaces only: neither core nor periphery nor outside, listed
   * so that the four lists together cover every active member.
   */
  readonly steeringOnly: readonly string[];
  /** Active members seated in no open space. */
  readonly outside: readonly string[];
  /** The category most represented in the core (ties go to the first category name), or null for an empty core. */
  readonly coreDominantCategory: CategoryShare | null;
}

/** Spaces where the PTCE is steered; the operational ones are where its activities are worked on. */
/** The kinds of space where a PTCE is steered: a seat there is a steering seat. */
export const STEERING_KINDS: ReadonlySet<SpaceKind> = new Set<SpaceKind>(['strategic', 'governance']);
const OPERATIONAL_KIND: SpaceKind = 'operational';

/**
 * `count / total` as a share; nobody to count is a share of 0 (nothing is shared by no one).
 *
 * The share is compared to its threshold as a quotient, not as `count >= threshold * total`:
 * a division is correctly rounded and rounding is monotone, so a ratio exactly equal to a
 * decimal threshold (9/10 and 0.9) rounds to the same double and compares equal, where the
 * product 0.9 × 10 need not.
 */
const shareOf = (count: number, total: number): number => (total === 0 ? 0 : count / total);

/**
 * The calendar day `months` months before `day` (`YYYY-MM-DD`): the same day of the month,
 * clamped to the last day of a shorter month (2024-02-29 back 12 months is 2023-02-28,
 * 2024-03-31 back 1 month is 2024-02-29).
 */
export function monthsBefore(day: string, months: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const monthIndex = y * 12 + (m - 1) - months;
  const year = Math.floor(monthIndex / 12);
  const month = monthIndex - year * 12 + 1;
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(Math.min(d, daysInMonth(year, month)), 2)}`;
}

const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const daysInMonth = (year: number, month: number): number =>
  month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;

const sorted = (ids: Iterable<string>): string[] => [...ids].sort();

/** The most frequent category, ties broken by category name so that the answer never depends on map order. */
function dominantCategory(categories: readonly Category[]): CategoryShare | null {
  if (categories.length === 0) return null;
  const counts = new Map<Category, number>();
  for (const c of categories) counts.set(c, (counts.get(c) ?? 0) + 1);
  const [category, count] = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))[0]!;
  return { category, share: count / categories.length };
}

/** Who sits where, and what the criteria find: everything the stage is decided on. */
function measure(state: LedgerState, rules: StageRules) {
  const members = [...state.members.values()];
  const memberCount = members.length;
  const partnerCount = members.filter((m) => m.organisationId !== state.pilotId).length;

  // Seats of active members in open spaces, by kind of space. A seat of an organisation that is
  // no longer a member does not count, whether or not the fold has ended it.
  const steering = new Set<string>();
  const operational = new Set<string>();
  for (const space of state.spaces.values()) {
    if (space.closedAt) continue;
    const seated = STEERING_KINDS.has(space.kind)
      ? steering
      : space.kind === OPERATIONAL_KIND
        ? operational
        : null;
    if (!seated) continue;
    for (const org of space.enrolled.keys()) if (state.members.has(org)) seated.add(org);
  }

  const categories = new Set(members.map((m) => m.category));
  const steeringCategories = new Set(
    members.filter((m) => steering.has(m.organisationId)).map((m) => m.category),
  );
  // A share of categories rather than a count: it reads the same whatever the number of
  // categories present, and "all" is simply a share of 1.
  const categoriesSteeringShare = shareOf(steeringCategories.size, categories.size);
  const steeringShare = shareOf(steering.size, memberCount);
  const associateCount = members.filter((m) => state.associates.has(m.organisationId)).length;
  const associateShare = shareOf(associateCount, memberCount);
  const entityRegistered = state.legalEntity !== null;

  // With no active member there is nothing to steer: the shares are 0 and their criteria fail.
  const criteria: Criterion[] = [
    {
      id: 'min_partners',
      holds: partnerCount >= rules.minPartners,
      value: partnerCount,
      threshold: rules.minPartners,
    },
    {
      id: 'all_categories_steering',
      holds: categories.size > 0 && categoriesSteeringShare >= 1,
      value: categoriesSteeringShare,
      threshold: 1,
    },
    {
      id: 'steering_share',
      holds: memberCount > 0 && steeringShare >= rules.collectiveShare,
      value: steeringShare,
      threshold: rules.collectiveShare,
    },
    { id: 'entity_registered', holds: entityRegistered, value: entityRegistered, threshold: true },
    {
      id: 'associate_share',
      holds: memberCount > 0 && associateShare >= rules.minAssociateShare,
      value: associateShare,
      threshold: rules.minAssociateShare,
    },
  ];
  const holds = (id: CriterionId) => criteria.some((c) => c.id === id && c.holds);

  let stage: Stage;
  if (!state.registration) stage = 'not_started';
  else if (!holds('min_partners')) stage = 'individual_impulse';
  else if (!(holds('all_categories_steering') && holds('steering_share'))) stage = 'divided_groups';
  else if (holds('entity_registered') && holds('associate_share')) stage = 'effective';
  else stage = 'collective_group';

  return { stage, criteria, steering, operational };
}

/** Each category as one bit: the categories present in a state are counted with no set built. */
const CATEGORY_BITS: ReadonlyMap<Category, number> = new Map(
  categorySchema.options.map((c, i) => [c, 1 << i]),
);
const bitOf = (category: Category): number => CATEGORY_BITS.get(category) ?? 0;

/** Steering spaces up to which a seat is looked for in the spaces before its own, not in a set. */
const LOOK_BACK_SPACES = 4;

function seatedBefore(spaces: readonly SpaceState[], end: number, organisationId: string): boolean {
  for (let k = 0; k < end; k++) if (spaces[k]!.enrolled.has(organisationId)) return true;
  return false;
}

/**
 * The stage alone, for a timeline that evaluates many states (thresholds are trusted: validate
 * them first). The same criteria as `measure`, with nothing built and each walk only when the
 * criteria before it hold: the partners are the members but the pilot; the steering seats; the
 * members' categories, until one is found unseated; the associates, once there is a legal entity.
 * A long history evaluates it on thousands of days, and the sets of members and categories it
 * once built per day were most of a rebuild's garbage.
 */
export function stageOf(state: LedgerState, rules: StageRules = DEFAULT_STAGE_RULES): Stage {
  if (!state.registration) return 'not_started';
  const memberCount = state.members.size;
  const pilotIsMember = state.pilotId !== null && state.members.has(state.pilotId);
  if (memberCount - (pilotIsMember ? 1 : 0) < rules.minPartners) return 'individual_impulse';
  const steeringSpaces: SpaceState[] = [];
  for (const space of state.spaces.values()) {
    if (!space.closedAt && STEERING_KINDS.has(space.kind)) steeringSpaces.push(space);
  }
  // A member seated in several steering spaces counts once: in the first of them walked. Looking
  // back through the spaces walked costs less than a set while they are a handful; not beyond.
  const seen = steeringSpaces.length > LOOK_BACK_SPACES ? new Set<string>() : null;
  let steeringCount = 0;
  let steeringCategories = 0;
  for (let k = 0; k < steeringSpaces.length; k++) {
    for (const org of steeringSpaces[k]!.enrolled.keys()) {
      const member = state.members.get(org);
      if (!member) continue;
      if (seen) {
        if (seen.has(org)) continue;
        seen.add(org);
      } else if (seatedBefore(steeringSpaces, k, org)) continue;
      steeringCount++;
      steeringCategories |= bitOf(member.category);
    }
  }
  if (shareOf(steeringCount, memberCount) < rules.collectiveShare) return 'divided_groups';
  // Every category among the members is seated in steering: the first one that is not settles it.
  let categories = 0;
  for (const member of state.members.values()) {
    const bit = bitOf(member.category);
    if ((bit & ~steeringCategories) !== 0) return 'divided_groups';
    categories |= bit;
  }
  if (categories === 0) return 'divided_groups';
  if (state.legalEntity === null) return 'collective_group';
  let associateCount = 0;
  for (const organisationId of state.associates.keys()) {
    if (state.members.has(organisationId)) associateCount++;
  }
  return shareOf(associateCount, memberCount) >= rules.minAssociateShare ? 'effective' : 'collective_group';
}

/**
 * Assesses the stage of `state`, the ledger state as of `at` (the caller replays it; see
 * `stageAt`). Pure: `at` is only used for the stalled window, never to read a clock.
 *
 * What the state gives is what it has at `at`: the active members, the open spaces and who is
 * seated in them (a member's seat counts only while it is an active member), the associates and
 * the legal entity. Enrolment history before `at` is not needed: the stage is a property of the
 * state at `at` alone.
 */
export function assessStage(
  state: LedgerState,
  at: ValidTime,
  rules: StageRules = DEFAULT_STAGE_RULES,
): StageAssessment {
  const version = rulesVersion(rules);
  const { stage, criteria, steering, operational } = measure(state, rules);
  const members = [...state.members.values()];

  // Every membership period that began by `at` counts as a join, the pilot's at the registration
  // included (an impulse nobody joined since it was registered stalls like any other), and so
  // does the join of a member who has left since: it joined.
  let lastJoinDay: string | null = null;
  for (const periods of state.periods.values()) {
    for (const p of periods) {
      const day = parisDay(p.joinedAt);
      if (lastJoinDay === null || day > lastJoinDay) lastJoinDay = day;
    }
  }
  // The window of n months ending on t's day starts on the same day n months earlier, which it
  // excludes: a member who joined on that day joined exactly n months ago, and that is stalled.
  const windowStart = monthsBefore(parisDay(at), rules.stalledAfterMonths);
  const stalled =
    stage === 'individual_impulse' && lastJoinDay !== null && daysBetween(lastJoinDay, windowStart) >= 0;

  const ids = members.map((m) => m.organisationId);
  const core = sorted(ids.filter((o) => steering.has(o) && operational.has(o)));
  const coreSet = new Set(core);

  return {
    rulesVersion: version,
    at,
    stage,
    label: STAGE_LABELS[stage],
    criteria,
    stalled,
    lastJoinDay,
    core,
    periphery: sorted(ids.filter((o) => operational.has(o) && !steering.has(o))),
    steeringOnly: sorted(ids.filter((o) => steering.has(o) && !operational.has(o))),
    outside: sorted(ids.filter((o) => !steering.has(o) && !operational.has(o))),
    coreDominantCategory: dominantCategory(
      members.filter((m) => coreSet.has(m.organisationId)).map((m) => m.category),
    ),
  };
}
