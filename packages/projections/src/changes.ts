import type { Ledger } from '@ptce/domain';
import { endInstant, startInstant, type ValidTime } from '@ptce/events';
import { ledgerAt } from './queries.ts';
import { DEFAULT_STAGE_RULES, type StageRules } from './stage-rules.ts';
import { stageTimeline } from './stage-timeline.ts';

export interface MemberChange {
  readonly organisationId: string;
  readonly at: ValidTime;
  readonly eventId: string;
}

export interface EnrolmentChange extends MemberChange {
  readonly spaceId: string;
}

export interface DecisionChange {
  readonly decisionId: string;
  readonly spaceId: string;
  readonly outcome: string;
  readonly at: ValidTime;
  readonly eventId: string;
}

export interface StageChange {
  readonly stage: string;
  readonly at: string;
  readonly eventId: string;
  readonly type: string;
}

/** What happened in the world between two valid times, as the ledger tells it. */
export interface Changes {
  readonly members: { readonly joined: MemberChange[]; readonly left: MemberChange[] };
  readonly enrolments: {
    readonly enrolled: (EnrolmentChange & { readonly role: string })[];
    readonly ended: (EnrolmentChange & { readonly by: string })[];
  };
  readonly decisions: { readonly recorded: DecisionChange[]; readonly annulled: DecisionChange[] };
  readonly stages: StageChange[];
}

const byTime = <T extends { at: string }>(a: T, b: T) => startInstant(a.at) - startInstant(b.at);

/**
 * The changes after `from` up to `to`: each fact whose valid time falls after the state at `from`
 * (a date counts its whole Paris day) and within the state at `to`, with the event that records
 * it. Read from the state at `to`, which keeps every period, ended ones included.
 */
export function changesBetween(
  ledger: Ledger,
  from: ValidTime,
  to: ValidTime,
  rules: StageRules = DEFAULT_STAGE_RULES,
): Changes {
  const after = endInstant(from);
  const until = endInstant(to);
  const within = (at: ValidTime | undefined): at is ValidTime =>
    at !== undefined && startInstant(at) > after && startInstant(at) <= until;
  const state = ledgerAt(ledger, to);

  const joined: MemberChange[] = [];
  const left: MemberChange[] = [];
  for (const [organisationId, periods] of state.periods) {
    for (const period of periods) {
      if (within(period.joinedAt))
        joined.push({ organisationId, at: period.joinedAt, eventId: period.joinEventId });
      if (within(period.leftAt) && period.leaveEventId)
        left.push({ organisationId, at: period.leftAt, eventId: period.leaveEventId });
    }
  }

  const enrolled: Changes['enrolments']['enrolled'] = [];
  const ended: Changes['enrolments']['ended'] = [];
  for (const [spaceId, space] of state.spaces) {
    for (const [organisationId, periods] of space.periods) {
      for (const period of periods) {
        if (within(period.enrolledAt))
          enrolled.push({
            spaceId,
            organisationId,
            role: period.role,
            at: period.enrolledAt,
            eventId: period.eventId,
          });
        if (within(period.endedAt) && period.endEventId)
          ended.push({
            spaceId,
            organisationId,
            at: period.endedAt,
            eventId: period.endEventId,
            by: period.endedBy ?? 'withdrawal',
          });
      }
    }
  }

  const recorded: DecisionChange[] = [];
  const annulled: DecisionChange[] = [];
  for (const d of state.decisions.values()) {
    const change = { decisionId: d.decisionId, spaceId: d.spaceId, outcome: d.outcome };
    if (within(d.decidedAt)) recorded.push({ ...change, at: d.decidedAt, eventId: d.eventId });
    if (d.annulled && within(d.annulled.at))
      annulled.push({ ...change, at: d.annulled.at, eventId: d.annulled.eventId });
  }

  const stages = stageTimeline(ledger, rules)
    .filter((entry) => within(entry.from))
    .map((entry) => ({
      stage: entry.stage,
      at: entry.from,
      eventId: entry.cause.eventId,
      type: entry.cause.type,
    }));

  return {
    members: { joined: joined.sort(byTime), left: left.sort(byTime) },
    enrolments: { enrolled: enrolled.sort(byTime), ended: ended.sort(byTime) },
    decisions: { recorded: recorded.sort(byTime), annulled: annulled.sort(byTime) },
    stages,
  };
}
