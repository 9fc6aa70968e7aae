import {
  type EventType,
  isDateOnly,
  type LedgerEvent,
  type LedgerEventOf,
  startInstant,
  TRANSACTION_TIME_TYPES,
} from '@ptce/events';
import { compareFacts } from './cuts.ts';
import type { CompiledLedger, Fact, KnownEvent, Ledger, LedgerWarning, LoggedEvent } from './types.ts';

/**
 * The compiled facts of the ledger, kept by its cache. The result never changes: a longer ledger
 * of the same log compiled since has compiled facts of its own.
 */
export function compileLedger(ledger: Ledger): CompiledLedger {
  return ledger.cache.compiled(ledger);
}

/** An event of the log by id, with the retraction that names it, if any. */
export function knownEvent(compiled: CompiledLedger, eventId: string): KnownEvent | undefined {
  const event = compiled.known.get(eventId);
  if (!event) return undefined;
  const retractedBy = compiled.retractions.get(eventId);
  return {
    eventId,
    type: event.type,
    logIndex: event.logIndex,
    occurredAt: event.occurredAt,
    ...(retractedBy ? { retractedBy } : {}),
  };
}

/** A compiled ledger as compiling builds it, and as the cache appends to it. */
export interface MutableCompiled {
  ptceId: string | null;
  facts: Fact[];
  factsById: Map<string, Fact>;
  known: Map<string, LoggedEvent>;
  retractions: Map<string, string>;
  erased: Set<string>;
  warnings: LedgerWarning[];
  lastPosition: string | null;
}

export function emptyCompiled(): MutableCompiled {
  return {
    ptceId: null,
    facts: [],
    factsById: new Map(),
    known: new Map(),
    erased: new Set(),
    retractions: new Map(),
    warnings: [],
    lastPosition: null,
  };
}

const CORRECTION_TARGETS: Partial<Record<EventType, readonly EventType[]>> = Object.freeze({
  MembershipCorrected: ['MemberJoined', 'PtceRegistered'],
  LegalEntityCorrected: ['LegalEntityRegistered'],
  MeetingCorrected: ['MeetingHeld'],
  DecisionCorrected: ['DecisionRecorded'],
});

/** A fact being corrected: a copy of the logged event, which stays as it was recorded. */
interface MutableFact {
  event: LedgerEvent;
  occurredAt: string;
  correctedBy: string[];
  readonly logged: LoggedEvent;
}

const isRetroactiveAnnulment = (event: { type: string; data: unknown }): boolean =>
  event.type === 'DecisionAnnulled' && (event.data as { retroactive?: boolean }).retroactive === true;

/**
 * The logged event as a new valid-time fact, or null when it is anything else (a correction,
 * invalid…). A retroactive annulment is placed by the decision it annuls, which only a compile of
 * the whole log knows: it is not a plain fact either.
 */
export function asPlainFact(event: LoggedEvent): Fact | null {
  if (event.invalid || TRANSACTION_TIME_TYPES.has(event.type as EventType)) return null;
  if (isRetroactiveAnnulment(event)) return null;
  return event as unknown as Fact;
}

/** Where `fact` goes in valid-time order: after every fact ordered before or with it. */
export function insertionIndex(facts: readonly Fact[], fact: Fact): number {
  const last = facts[facts.length - 1];
  if (!last || compareFacts(last, fact) <= 0) return facts.length;
  let lo = 0;
  let hi = facts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareFacts(facts[mid]!, fact) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The facts that events not yet in the log would add once appended after it, or null when one of
 * them would do anything else (a correction, a retraction, an invalid, duplicate or known event).
 */
export function pendingFacts(compiled: CompiledLedger, events: readonly LoggedEvent[]): Fact[] | null {
  const ids = new Set<string>();
  const out: Fact[] = [];
  for (const event of events) {
    if (compiled.known.has(event.eventId) || ids.has(event.eventId)) return null;
    if (compiled.warnings.some((w) => w.eventId === event.eventId)) return null;
    const fact = asPlainFact(event);
    if (!fact) return null;
    if (movesAnAnnulment(compiled.facts, fact) || movesAnAnnulment(out, fact)) return null;
    ids.add(event.eventId);
    out.push(fact);
  }
  return out;
}

/**
 * A decision recorded after an annulment of it that took no date of its own: compiling moves that
 * annulment to the decision's date, which no insertion of the decision alone reproduces.
 */
export function movesAnAnnulment(facts: readonly Fact[], fact: Fact): boolean {
  return (
    fact.type === 'DecisionRecorded' &&
    facts.some(
      (f) =>
        f.type === 'DecisionAnnulled' &&
        f.data.decisionId === fact.data.decisionId &&
        isRetroactiveAnnulment(f),
    )
  );
}

/** The compiled facts with `extra` inserted at their places, as a new array. */
export function withFacts(facts: readonly Fact[], extra: readonly Fact[]): Fact[] {
  const out = facts.slice();
  for (const f of extra) out.splice(insertionIndex(out, f), 0, f);
  return out;
}

/** Compiles the log from scratch: `events` in log order. */
export function compile(events: readonly LoggedEvent[]): MutableCompiled {
  const warnings: LedgerWarning[] = [];
  const warn = (
    e: { eventId: string; type: string },
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) => warnings.push({ eventId: e.eventId, type: e.type, code, message, ...(details ? { details } : {}) });

  const known = new Map<string, LoggedEvent>();
  // The events the fold reads, in log order: neither duplicates nor invalid ones.
  const usable: LoggedEvent[] = [];
  for (const event of events) {
    if (known.has(event.eventId)) {
      warn(
        event,
        'duplicate_event',
        `event ${event.eventId} appears twice in the log; the second is ignored`,
      );
    } else if (event.invalid) {
      warn(event, event.invalid.code, event.invalid.message);
    } else {
      known.set(event.eventId, event);
      usable.push(event);
    }
  }

  // Retractions act in transaction time: they name an event recorded before them in the log.
  const retractions = new Map<string, string>();
  for (const event of usable) {
    if (event.type !== 'EventRetracted') continue;
    const retracted = (event as unknown as LedgerEventOf<'EventRetracted'>).data.retractedEventId;
    const target = known.get(retracted);
    const already = retractions.get(retracted);
    if (!target || target.logIndex > event.logIndex) {
      warn(event, 'retraction_target_unknown', `retracts ${retracted}, which is not in this ledger`);
    } else if (target.type === 'EventRetracted') {
      warn(event, 'cannot_retract_retraction', `retracts ${target.eventId}, itself a retraction`);
    } else if (target.type === 'PersonalDataErased') {
      // The data key is destroyed: nothing could bring the person's data back.
      warn(event, 'cannot_retract_erasure', `retracts ${target.eventId}, an erasure, which cannot be undone`);
    } else if (already) {
      warn(event, 'already_retracted', `${target.eventId} was already retracted by ${already}`);
    } else {
      retractions.set(retracted, event.eventId);
    }
  }

  const erased = new Set<string>();
  for (const event of usable) {
    if (event.type !== 'PersonalDataErased') continue;
    erased.add((event as unknown as LedgerEventOf<'PersonalDataErased'>).data.organisationId);
  }

  const isFact = (event: LoggedEvent) =>
    !TRANSACTION_TIME_TYPES.has(event.type as EventType) && !retractions.has(event.eventId);

  // Corrections act in transaction time too: applied in log order, a later one overriding an
  // earlier one. Only the facts they touch are copied.
  const corrected = new Map<string, MutableFact>();
  for (const event of usable) {
    const targets = CORRECTION_TARGETS[event.type as EventType];
    if (!targets || retractions.has(event.eventId)) continue;
    const correction = event as unknown as LedgerEvent;
    if (
      correction.type !== 'MembershipCorrected' &&
      correction.type !== 'LegalEntityCorrected' &&
      correction.type !== 'MeetingCorrected' &&
      correction.type !== 'DecisionCorrected'
    ) {
      continue;
    }
    const correctsId = correction.data.correctsEventId;
    const named = known.get(correctsId);
    // A record retracted after it was corrected takes its corrections with it: nothing to report.
    // Only a correction recorded once its record was already retracted names nothing.
    const retraction = known.get(retractions.get(correctsId) ?? '');
    if (named && retraction && named.logIndex < event.logIndex && event.logIndex < retraction.logIndex) {
      continue;
    }
    // A correction names a record made before it in the log, never one still to come.
    if (!named || !isFact(named) || named.logIndex >= event.logIndex) {
      const retracted = named && retractions.has(correctsId);
      warn(
        event,
        retracted ? 'correction_of_retracted' : 'correction_target_unknown',
        retracted
          ? `corrects ${correctsId}, which was retracted`
          : `corrects ${correctsId}, which is not a fact of this ledger`,
      );
      continue;
    }
    const fact = corrected.get(correctsId) ?? {
      event: { type: named.type, data: named.data } as LedgerEvent,
      occurredAt: named.occurredAt,
      correctedBy: [],
      logged: named,
    };
    if (!targets.includes(fact.event.type)) {
      warn(event, 'correction_target_mismatch', `a ${correction.type} cannot correct a ${fact.event.type}`);
      continue;
    }
    const refused = applyCorrection(fact, correction);
    if (refused) {
      warn(event, refused.code, refused.message);
      continue;
    }
    fact.correctedBy.push(event.eventId);
    corrected.set(correctsId, fact);
  }

  const list: Fact[] = [];
  for (const event of usable) {
    if (!isFact(event)) continue;
    const fact = corrected.get(event.eventId);
    list.push(fact ? correctedFact(fact) : (event as unknown as Fact));
  }
  placeRetroactiveAnnulments(list);
  list.sort(compareFacts);
  const first = events[0];
  return {
    ptceId: first ? first.ptceId : null,
    facts: list,
    factsById: new Map(list.map((f) => [f.eventId, f])),
    known,
    retractions,
    erased,
    warnings,
    lastPosition: events.length ? (events[events.length - 1]?.position ?? null) : null,
  };
}

/**
 * An annulment recorded without a date of its own takes effect at the decision's date as the log
 * now tells it: the decision's corrected date, not the one it had when the annulment was recorded.
 * It is moved there in place (before the facts are sorted), and, logged after the decision, it is
 * applied right after it. One whose decision is not a fact (retracted, never recorded) keeps its
 * stored date, and the fold says it annuls nothing.
 */
function placeRetroactiveAnnulments(list: Fact[]): void {
  if (!list.some(isRetroactiveAnnulment)) return;
  // A decision id recorded twice: the fold keeps the record first in valid time.
  const decisions = new Map<string, Fact>();
  for (const f of list) {
    if (f.type !== 'DecisionRecorded') continue;
    const other = decisions.get(f.data.decisionId);
    if (!other || compareFacts(f, other) < 0) decisions.set(f.data.decisionId, f);
  }
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    if (f.type !== 'DecisionAnnulled' || !isRetroactiveAnnulment(f)) continue;
    const decision = decisions.get(f.data.decisionId);
    if (!decision || decision.occurredAt === f.occurredAt) continue;
    list[i] = {
      ...f,
      occurredAt: decision.occurredAt,
      start: decision.start,
      isDate: decision.isDate,
    } as Fact;
  }
}

function correctedFact(f: MutableFact): Fact {
  const { logged: event } = f;
  return {
    type: f.event.type,
    data: f.event.data,
    eventId: event.eventId,
    occurredAt: f.occurredAt,
    position: event.position,
    recordedAt: event.recordedAt,
    logIndex: event.logIndex,
    correctedBy: f.correctedBy,
    start: startInstant(f.occurredAt),
    isDate: isDateOnly(f.occurredAt),
  } as Fact;
}

function applyCorrection(
  fact: MutableFact,
  correction: LedgerEvent,
): { code: string; message: string } | null {
  const target = fact.event;
  switch (correction.type) {
    case 'MembershipCorrected': {
      const f = correction.data.fields;
      if (target.type === 'MemberJoined') {
        if (target.data.organisationId !== correction.data.organisationId) {
          return {
            code: 'correction_target_mismatch',
            message: `names ${correction.data.organisationId}, not the joiner`,
          };
        }
        fact.event = {
          type: 'MemberJoined',
          data: {
            ...target.data,
            ...(f.name ? { name: f.name } : {}),
            ...(f.category ? { category: f.category } : {}),
            ...(f.legalStatus ? { legalStatus: f.legalStatus } : {}),
          },
        };
      } else if (target.type === 'PtceRegistered') {
        if (target.data.pilot.organisationId !== correction.data.organisationId) {
          return {
            code: 'correction_target_mismatch',
            message: `names ${correction.data.organisationId}, not the pilot`,
          };
        }
        fact.event = {
          type: 'PtceRegistered',
          data: {
            ...target.data,
            pilot: {
              ...target.data.pilot,
              ...(f.name ? { name: f.name } : {}),
              ...(f.category ? { category: f.category } : {}),
              ...(f.legalStatus ? { legalStatus: f.legalStatus } : {}),
            },
          },
        };
      }
      if (f.joinedAt) fact.occurredAt = f.joinedAt;
      return null;
    }
    case 'LegalEntityCorrected': {
      if (target.type !== 'LegalEntityRegistered') return null;
      const { registeredAt, ...fields } = correction.data.fields;
      fact.event = { type: 'LegalEntityRegistered', data: { ...target.data, ...fields } };
      if (registeredAt) fact.occurredAt = registeredAt;
      return null;
    }
    case 'MeetingCorrected': {
      if (target.type !== 'MeetingHeld') return null;
      if (target.data.meetingId !== correction.data.meetingId) {
        return { code: 'correction_target_mismatch', message: `names meeting ${correction.data.meetingId}` };
      }
      const { heldAt, attendees } = correction.data.fields;
      fact.event = { type: 'MeetingHeld', data: { ...target.data, ...(attendees ? { attendees } : {}) } };
      if (heldAt) fact.occurredAt = heldAt;
      return null;
    }
    case 'DecisionCorrected': {
      if (target.type !== 'DecisionRecorded') return null;
      if (target.data.decisionId !== correction.data.decisionId) {
        return {
          code: 'correction_target_mismatch',
          message: `names decision ${correction.data.decisionId}`,
        };
      }
      const { decidedAt, vote, present, title } = correction.data.fields;
      fact.event = {
        type: 'DecisionRecorded',
        data: {
          ...target.data,
          ...(vote ? { vote } : {}),
          ...(present ? { present } : {}),
          ...(title ? { title } : {}),
          rules: correction.data.rules,
          enrolledCount: correction.data.enrolledCount,
          outcome: correction.data.outcome,
        },
      };
      if (decidedAt) fact.occurredAt = decidedAt;
      return null;
    }
    default:
      return null;
  }
}
