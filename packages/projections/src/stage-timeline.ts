import {
  compileLedger,
  type Fact,
  type Ledger,
  type LedgerState,
  type LedgerWarning,
  type LogPrefixes,
  type PrefixReader,
  visitFacts,
} from '@ptce/domain';
import { endInstant, parisDay, type ValidTime } from '@ptce/events';
import { ledgerAt } from './queries.ts';
import {
  assessStage,
  STAGE_LABELS,
  type Stage,
  type StageAssessment,
  type StageLabel,
  stageOf,
} from './stage.ts';
import { DEFAULT_STAGE_RULES, type StageRules, stageRulesSchema } from './stage-rules.ts';

/*
 * The stages a PTCE went through, day by day. The stage is evaluated at the end of every
 * Europe/Paris day on which a fact takes effect (a date fact at 00:00 Paris that day, an instant
 * at that instant): nothing else changes the state, so nothing else can change the stage.
 * Consecutive days at the same stage form one entry, so a PTCE that falls back (a collective
 * group turned divided groups by a newcomer without a steering seat) shows as a new entry.
 *
 * Each entry names its cause: the earliest fact of its first day after which the stage is the
 * entry's and stays so to the end of that day. Facts of a day are taken in the ledger's own
 * replay order: by the moment they take effect (a date at 00:00 Paris, before an instant of that
 * same moment), then by log position. The day-end stage alone would not find it: a day may hold several facts, and a
 * stage reached by the first then lost and reached again by the last is caused by the last.
 */

export interface StageCause {
  readonly eventId: string;
  readonly type: string;
}

export interface StageTimelineEntry {
  readonly stage: Stage;
  readonly label: StageLabel;
  /** The Paris day (`YYYY-MM-DD`) the stage was reached, at its end. */
  readonly from: string;
  /** The next entry's `from` (exclusive), or null for the stage still held. */
  readonly to: string | null;
  readonly cause: StageCause;
}

/** A stage answer: the assessment at `at` and the day its stage was reached (null before registration). */
export interface StageAnswer extends StageAssessment {
  readonly since: string | null;
}

/**
 * Facts that never change what the stage is measured on (the members and their categories, the
 * seats in open spaces, the associates, the legal entity): a day holding only these keeps the
 * stage of the day before, so its stage is not evaluated again. Listed as those that cannot,
 * rather than those that can, so that a new type of fact is evaluated until proven neutral.
 */
const STAGE_NEUTRAL: ReadonlySet<string> = new Set([
  'MeetingHeld',
  'DecisionRecorded',
  'DecisionAnnulled',
  'ActivityLaunched',
  'CarrierJoined',
  'ActivityEnded',
  'SpaceRulesChanged',
  'RecognitionGranted',
]);

interface FactDay {
  readonly day: string;
  /** Index in the compiled facts of the day's first fact. */
  readonly first: number;
  /** Index just after the day's last fact. */
  end: number;
  /**
   * How many of its facts may change the stage (none: the day keeps the stage of the day before),
   * and the index of the first of them (-1: none).
   */
  movers: number;
  mover: number;
}

/** Facts grouped by the Paris day they take effect on; valid-time order keeps the days ascending. */
function factDays(facts: readonly Fact[]): FactDay[] {
  const days: FactDay[] = [];
  let current: FactDay | undefined;
  // Facts come in valid-time order, many on the same date: the day of the previous one is reused.
  let lastAt = '';
  let lastDay = '';
  for (let i = 0; i < facts.length; i++) {
    const fact = facts[i]!;
    if (fact.occurredAt !== lastAt) {
      lastAt = fact.occurredAt;
      lastDay = parisDay(lastAt);
    }
    const day = lastDay;
    if (current?.day !== day) {
      current = { day, first: i, end: i, movers: 0, mover: -1 };
      days.push(current);
    }
    current.end = i + 1;
    if (!STAGE_NEUTRAL.has(fact.type) && current.movers++ === 0) current.mover = i;
  }
  return days;
}

interface StageChange {
  readonly day: FactDay;
  readonly stage: Stage;
}

/**
 * The days the stage changed (at their end), oldest first, up to `lastDay` included: one replay
 * of the facts, the stage evaluated at the end of each day whose facts may move it.
 */
function stageChanges(
  ledger: Ledger,
  days: readonly FactDay[],
  rules: StageRules,
  lastDay: string | null,
  /** Also shown the state after each fact replayed, before the day's end is looked at. */
  onFact?: (state: LedgerState, index: number) => void,
): StageChange[] {
  const changes: StageChange[] = [];
  let previous: Stage = 'not_started';
  let d = 0;
  visitFacts(ledger, (_fact, state, i) => {
    const day = days[d]!;
    if (lastDay !== null && day.day > lastDay) return false;
    onFact?.(state, i);
    if (i < day.end - 1) return true;
    d++;
    if (day.movers === 0) return true;
    const stage = stageOf(state, rules);
    if (stage !== previous) changes.push({ day, stage });
    previous = stage;
    return true;
  });
  return changes;
}

/**
 * The cause of each change: the earliest fact of its day after which the stage is the change's
 * and stays so to the day's end. A day with one fact that may move the stage is caused by that
 * fact: the others leave the stage as they found it, the day's start stage before it and its end
 * stage after. Only the days that changed the stage through several such facts take one more
 * replay, to the end of the last of those days, evaluating the stage after each of their facts
 * that may move it.
 */
function causesOf(
  ledger: Ledger,
  facts: readonly Fact[],
  changes: readonly StageChange[],
  rules: StageRules,
): Fact[] {
  const causes = changes.map(({ day }) => facts[day.movers === 1 ? day.mover : day.end - 1]!);
  const busy = changes
    .map((change, index) => ({ change, index }))
    .filter(({ change }) => change.day.movers > 1);
  if (busy.length === 0) return causes;
  let b = 0;
  let cause: Fact | null = null;
  // The stage after the fact before: a fact that cannot move it leaves it as it was.
  let stage: Stage | null = null;
  visitFacts(ledger, (fact, state, i) => {
    const { change, index } = busy[b]!;
    if (i < change.day.first) return true;
    if (stage === null || !STAGE_NEUTRAL.has(fact.type)) stage = stageOf(state, rules);
    const reached = stage === change.stage;
    if (!reached) cause = null;
    else cause ??= fact;
    if (i < change.day.end - 1) return true;
    // The day ends at the change's stage, so its last fact leaves it there: the fallback is never taken.
    causes[index] = cause ?? fact;
    cause = null;
    stage = null;
    b++;
    return b < busy.length;
  });
  return causes;
}

/**
 * The PTCE's stages, oldest first; before the first entry it had not started.
 *
 * The cost is one replay of the facts (nothing parsed or copied) and one stage evaluation at the
 * end of each day whose facts may move it; then, when a day changed it through several facts
 * that may, a second replay to the end of the last such day, evaluating the stage after each of
 * their facts that may move it.
 */
export function stageTimeline(ledger: Ledger, rules: StageRules = DEFAULT_STAGE_RULES): StageTimelineEntry[] {
  const validRules = stageRulesSchema.parse(rules);
  const { facts } = compileLedger(ledger);
  const changes = stageChanges(ledger, factDays(facts), validRules, null);
  const causes = causesOf(ledger, facts, changes, validRules);
  return changes.map(({ day, stage }, i) => {
    const cause = causes[i]!;
    return {
      stage,
      label: STAGE_LABELS[stage],
      from: day.day,
      to: changes[i + 1]?.day.day ?? null,
      cause: { eventId: cause.eventId, type: cause.type },
    };
  });
}

/** A stage answer with the warnings of the state it was read from. */
export interface StageReading {
  readonly answer: StageAnswer;
  /** The warnings of the ledger's state at `at`, as `ledgerAt(ledger, at).warnings` gives them. */
  readonly warnings: readonly LedgerWarning[];
}

/**
 * The stage at `at`, with `since`: the `from` of its timeline entry. An instant during a day
 * whose facts change the stage may fall before the change: its stage is then the previous
 * entry's, and so is its `since`; a stage held only between two facts of one day, never at a
 * day's end, is in no entry and began that day.
 */
export function stageAt(ledger: Ledger, at: ValidTime, rules: StageRules = DEFAULT_STAGE_RULES): StageAnswer {
  return readStageAt(ledger, at, rules).answer;
}

/**
 * `stageAt` and the state's warnings from one replay: the state at `at` is the one the replay
 * reaches after the last fact that `at` takes in, on its way to the end of `at`'s day, where the
 * changes that give `since` stop.
 */
export function readStageAt(
  ledger: Ledger,
  at: ValidTime,
  rules: StageRules = DEFAULT_STAGE_RULES,
): StageReading {
  const { facts } = compileLedger(ledger);
  const end = endInstant(at);
  const day = parisDay(at);
  let reading: { assessment: StageAssessment; warnings: readonly LedgerWarning[] } | null = null;
  // A first fact later on `at`'s day than `at` is visited on the way to the day's end, yet takes
  // nothing in: the state at `at` is then the one before any fact.
  const noneTakenIn = facts.length > 0 && facts[0]!.start > end;
  const changes = stageChanges(ledger, factDays(facts), rules, day, (state, i) => {
    if (reading !== null || noneTakenIn) return;
    const next = facts[i + 1];
    if (next && next.start <= end) return;
    reading = { assessment: assessStage(state, at, rules), warnings: [...state.warnings] };
  });
  // No fact taken in by `at` (or none at all): the state before any fact.
  if (reading === null) {
    const state = ledgerAt(ledger, at);
    reading = { assessment: assessStage(state, at, rules), warnings: state.warnings };
  }
  const { assessment, warnings } = reading as {
    assessment: StageAssessment;
    warnings: readonly LedgerWarning[];
  };
  const last = (c: StageChange | undefined) => (c ? { day: c.day.day, stage: c.stage } : null);
  return { answer: withSince(assessment, day, last(changes.at(-1)), last(changes.at(-2))), warnings };
}

/** The stage's `since`, from the last two changes of the stage up to the end of `day`, `at`'s day. */
function withSince(
  assessment: StageAssessment,
  day: string,
  covering: { readonly day: string; readonly stage: Stage } | null,
  before: { readonly day: string; readonly stage: Stage } | null,
): StageAnswer {
  if (assessment.stage === 'not_started') return { ...assessment, since: null };
  let since = day;
  if (covering?.stage === assessment.stage) since = covering.day;
  else if (covering?.day === day && before?.stage === assessment.stage) since = before.day;
  return { ...assessment, since };
}

/** What `readStageAt` follows of a replay: the stage at the end of each day and its last two changes. */
interface StageWatch {
  previous: Stage;
  covering: { readonly day: string; readonly stage: Stage } | null;
  before: { readonly day: string; readonly stage: Stage } | null;
  /** Whether a fact of the day being replayed may move the stage. */
  moves: boolean;
}

function stageReader(rules: StageRules): PrefixReader<StageWatch> {
  return {
    start: () => ({ previous: 'not_started', covering: null, before: null, moves: false }),
    copy: (w) => ({ ...w }),
    fact: (w, fact) => {
      if (!STAGE_NEUTRAL.has(fact.type)) w.moves = true;
    },
    dayEnd: (w, state, day) => {
      if (!w.moves) return;
      w.moves = false;
      const stage = stageOf(state, rules);
      if (stage !== w.previous) {
        w.before = w.covering;
        w.covering = { day, stage };
      }
      w.previous = stage;
    },
    // The stage reads who is a member (and of which category), the seats, the associates, the
    // legal entity, the registration and the pilot, and the warnings: never a member's name or
    // legal status, the PTCE's name or territory, nor the recognitions.
    reads: (fact) => {
      switch (fact.type) {
        case 'RecognitionGranted':
          return null;
        case 'MemberJoined':
          return `${fact.data.organisationId}\u0000${fact.data.category}`;
        case 'PtceRegistered':
          return `${fact.data.pilot.organisationId}\u0000${fact.data.pilot.category}`;
        default:
          return JSON.stringify(fact.data);
      }
    },
  };
}

/**
 * `readStageAt` on the first `size` events of the log `prefixes` was built for (its ledger at a
 * `knownAt` or `atPosition`), from the prefixes' checkpoints: a stretch of the history is
 * replayed, not all of it. `rules` names the checkpoints kept: give the same object every time.
 */
export function readStageOnPrefix(
  prefixes: LogPrefixes,
  size: number,
  at: ValidTime,
  rules: StageRules = DEFAULT_STAGE_RULES,
): StageReading {
  let reading: { assessment: StageAssessment; warnings: readonly LedgerWarning[] } | null = null;
  const watch = prefixes.replayTo(size, at, rules, stageReader(rules), (state) => {
    reading = { assessment: assessStage(state, at, rules), warnings: [...state.warnings] };
  });
  const { assessment, warnings } = reading as unknown as {
    assessment: StageAssessment;
    warnings: readonly LedgerWarning[];
  };
  return { answer: withSince(assessment, parisDay(at), watch.covering, watch.before), warnings };
}

/**
 * `stageAt` for a caller that has the ledger's timeline already (a read model computes both):
 * `since` is read off its entries, so no replay but the state's at `at`, which the ledger caches.
 */
export function stageAtOnTimeline(
  ledger: Ledger,
  at: ValidTime,
  timeline: readonly StageTimelineEntry[],
  rules: StageRules = DEFAULT_STAGE_RULES,
): StageAnswer {
  const assessment = assessStage(ledgerAt(ledger, at), at, rules);
  if (assessment.stage === 'not_started') return { ...assessment, since: null };
  const day = parisDay(at);
  let c = timeline.length - 1;
  while (c >= 0 && timeline[c]!.from > day) c--;
  const covering = timeline[c];
  const before = timeline[c - 1];
  let since = day;
  if (covering?.stage === assessment.stage) since = covering.from;
  else if (covering?.from === day && before?.stage === assessment.stage) since = before.from;
  return { ...assessment, since };
}
