import {
  compileLedger,
  evolveLedger,
  type Fact,
  type FoldedEvent,
  initialLedger,
  type Ledger,
  type LedgerState,
  ledgerFinal,
} from '@ptce/domain';
import { eventCatalog, parisDay, type ValidTime } from '@ptce/events';
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
 * The ledger's facts replayed one at a time. The domain's cuts stop at a valid time, and facts
 * of the same date (or instant) share one: no cut separates them. So the compiled facts, already
 * corrected and with retractions removed, are folded again as a log of their own, in valid-time
 * order, where the state after any one of them is the final state of a prefix of that log.
 */
class FactByFactReplay {
  private ledger: Ledger = initialLedger();

  constructor(private readonly ptceId: string) {}

  push(fact: Fact): void {
    const event: FoldedEvent = {
      eventId: fact.eventId,
      type: fact.type,
      // Compiled data is parsed and upcast: it is data of the catalog's current version.
      schemaVersion: eventCatalog[fact.type].schemaVersion,
      ptceId: this.ptceId,
      occurredAt: fact.occurredAt,
      data: fact.data,
      position: fact.position,
      recordedAt: fact.recordedAt,
    };
    this.ledger = evolveLedger(this.ledger, event);
  }

  state(): LedgerState {
    return ledgerFinal(this.ledger);
  }
}

interface FactDay {
  readonly day: string;
  /** Index in the compiled facts of the day's first fact. */
  readonly first: number;
  readonly facts: readonly Fact[];
}

/** Facts grouped by the Paris day they take effect on; valid-time order keeps the days ascending. */
function factDays(facts: readonly Fact[]): FactDay[] {
  const days: { day: string; first: number; facts: Fact[] }[] = [];
  facts.forEach((fact, index) => {
    const day = parisDay(fact.occurredAt);
    const current = days.at(-1);
    if (current?.day === day) current.facts.push(fact);
    else days.push({ day, first: index, facts: [fact] });
  });
  return days;
}

/**
 * The earliest fact of `day` after which the stage is `target` until the day's end. Replays the
 * facts before the day from nothing: done only on the days the stage changes, which are few.
 */
function causeOn(
  day: FactDay,
  facts: readonly Fact[],
  ptceId: string,
  target: Stage,
  rules: StageRules,
): Fact {
  const lastFact = day.facts.at(-1)!;
  if (day.facts.length === 1) return lastFact;
  const replay = new FactByFactReplay(ptceId);
  for (const fact of facts.slice(0, day.first)) replay.push(fact);
  let cause: Fact | null = null;
  for (const fact of day.facts) {
    replay.push(fact);
    const reached = stageOf(replay.state(), rules) === target;
    if (!reached) cause = null;
    else cause ??= fact;
  }
  // The day ends at `target`, so the last fact leaves it there; the fallback is never taken.
  return cause ?? lastFact;
}

/** The days the stage changed (at their end), oldest first, up to `lastDay` included. */
function stageChanges(
  days: readonly FactDay[],
  ptceId: string,
  rules: StageRules,
  lastDay: string | null,
): { day: FactDay; stage: Stage }[] {
  const changes: { day: FactDay; stage: Stage }[] = [];
  const replay = new FactByFactReplay(ptceId);
  let previous: Stage = 'not_started';
  for (const day of days) {
    if (lastDay !== null && day.day > lastDay) break;
    for (const fact of day.facts) replay.push(fact);
    const stage = stageOf(replay.state(), rules);
    if (stage !== previous) changes.push({ day, stage });
    previous = stage;
  }
  return changes;
}

/**
 * The PTCE's stages, oldest first; before the first entry it had not started.
 *
 * The cost is one replay step per fact and one stage evaluation per day with facts (plus a
 * replay of the history before each day whose stage changed through several facts): a read
 * model keeping it should compute it once per ledger version, not per request.
 */
export function stageTimeline(ledger: Ledger, rules: StageRules = DEFAULT_STAGE_RULES): StageTimelineEntry[] {
  const validRules = stageRulesSchema.parse(rules);
  const compiled = compileLedger(ledger);
  const ptceId = compiled.ptceId ?? '';
  const changes = stageChanges(factDays(compiled.facts), ptceId, validRules, null);
  return changes.map(({ day, stage }, i) => {
    const cause = causeOn(day, compiled.facts, ptceId, stage, validRules);
    return {
      stage,
      label: STAGE_LABELS[stage],
      from: day.day,
      to: changes[i + 1]?.day.day ?? null,
      cause: { eventId: cause.eventId, type: cause.type },
    };
  });
}

/**
 * The stage at `at`, with `since`: the `from` of its timeline entry. An instant during a day
 * whose facts change the stage may fall before the change: its stage is then the previous
 * entry's, and so is its `since`; a stage held only between two facts of one day, never at a
 * day's end, is in no entry and began that day.
 */
export function stageAt(ledger: Ledger, at: ValidTime, rules: StageRules = DEFAULT_STAGE_RULES): StageAnswer {
  const assessment = assessStage(ledgerAt(ledger, at), at, rules);
  if (assessment.stage === 'not_started') return { ...assessment, since: null };
  const day = parisDay(at);
  // Only the changes up to t's day matter, and their causes not at all: the timeline's `from`s
  // without the rest of it.
  const compiled = compileLedger(ledger);
  const changes = stageChanges(factDays(compiled.facts), compiled.ptceId ?? '', rules, day);
  const covering = changes.at(-1);
  const before = changes.at(-2);
  let since = day;
  if (covering?.stage === assessment.stage) since = covering.day.day;
  else if (covering?.day.day === day && before?.stage === assessment.stage) since = before.day.day;
  return { ...assessment, since };
}
