import {
  type EventEnvelope,
  type EventType,
  endInstant,
  isDateOnly,
  isValidTime,
  type LedgerEvent,
  type LedgerEventOf,
  parseEvent,
  startInstant,
  TRANSACTION_TIME_TYPES,
  type ValidTime,
} from '@ptce/events';

/**
 * The bitemporal model of one PTCE: the log as received (in log order), from which facts with
 * their corrected valid times are compiled lazily and replayed in valid time on demand.
 *
 * The log is a persistent list so `evolveLedger` is O(1) and every earlier ledger stays valid.
 * The compiled facts are not persistent: only the latest compiled ledger of a log is kept, and it
 * is handed over (mutated in place) to the next one when a child ledger is compiled. A ledger that
 * has been extended and compiled since falls back to a from-scratch compile when queried again.
 */
export interface Ledger {
  readonly size: number;
  readonly last: LogNode | null;
}

/**
 * What the fold reads of an envelope, and all the ledger keeps of it. Hashes, the recorder and
 * correlation ids belong to the audit, which reads the store: kept here they would triple the
 * memory of a long history (measured: 164 MB against 44 MB for 50,000 joins).
 */
export type FoldedEvent = Pick<
  EventEnvelope,
  'eventId' | 'type' | 'schemaVersion' | 'ptceId' | 'occurredAt' | 'data' | 'position' | 'recordedAt'
>;

export interface LogNode {
  readonly event: LoggedEvent;
  readonly prev: LogNode | null;
}

/**
 * An event as the log keeps it: parsed and placed in valid time once, when it is folded in. A
 * valid fact that no correction touches is its own `Fact` — one object per event, and one copy of
 * its data (the parsed one), however many times the log is compiled.
 */
export type LoggedEvent = FoldedEvent & {
  readonly logIndex: number;
  /** Why the envelope is not a usable event (unknown type, invalid data or valid time), if it is not. */
  readonly invalid:
    | { readonly code: 'invalid_event' | 'invalid_valid_time'; readonly message: string }
    | undefined;
  readonly start: number;
  readonly isDate: boolean;
  readonly correctedBy: readonly string[];
};

const EMPTY: Ledger = Object.freeze({ size: 0, last: null });
const NONE: readonly string[] = Object.freeze([]);

export function initialLedger(): Ledger {
  return EMPTY;
}

/**
 * Stored events come back as fresh strings for every field, so a long history holds thousands of
 * copies of the same PTCE id, type, date and category. The log keeps one of each. Bounded: the
 * table starts again when full, so a stream of unique values costs no more than its size.
 */
const internTable = new Map<string, string>();
const INTERN_LIMIT = 16_384;
function intern(value: string): string {
  const known = internTable.get(value);
  if (known !== undefined) return known;
  if (internTable.size >= INTERN_LIMIT) internTable.clear();
  internTable.set(value, value);
  return value;
}

/** Enumerated values (categories, kinds, roles…) are snake_case words: worth sharing. */
const ENUM_LIKE = /^[a-z][a-z_]{0,31}$/;

function internedData(data: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  for (const key in data) {
    const value = data[key];
    if (typeof value === 'string' && ENUM_LIKE.test(value)) {
      (data as Record<string, unknown>)[key] = intern(value);
    }
  }
  return data;
}

/** Parses and places an envelope at `logIndex` of a log; an already logged one at that index is reused. */
function logged(event: FoldedEvent, logIndex: number): LoggedEvent {
  const already = event as Partial<LoggedEvent>;
  if (already.logIndex === logIndex && already.correctedBy === NONE) return event as LoggedEvent;
  let data = event.data;
  let invalid: LoggedEvent['invalid'];
  let start = 0;
  let isDate = false;
  try {
    const parsed = parseEvent(event);
    // The parsed data is a copy of the envelope's, made here: ours to share strings in.
    data = internedData(parsed.data);
    if (isValidTime(event.occurredAt)) {
      start = startInstant(event.occurredAt);
      isDate = isDateOnly(event.occurredAt);
    } else if (!TRANSACTION_TIME_TYPES.has(parsed.type)) {
      // Corrections and retractions act in transaction time: their own occurredAt places nothing.
      const message = `occurredAt ${JSON.stringify(event.occurredAt)} is not a valid time`;
      invalid = { code: 'invalid_valid_time', message };
    }
  } catch (err) {
    invalid = { code: 'invalid_event', message: err instanceof Error ? err.message : String(err) };
  }
  // One literal, always the same fields in the same order: every logged event shares one shape.
  return {
    eventId: event.eventId,
    type: intern(event.type),
    schemaVersion: event.schemaVersion,
    ptceId: intern(event.ptceId),
    occurredAt: intern(event.occurredAt),
    data,
    position: event.position,
    recordedAt: intern(event.recordedAt),
    logIndex,
    invalid,
    start,
    isDate,
    correctedBy: NONE,
  };
}

/** Events must be given in log order (ascending position); the fold never reorders the log. */
export function evolveLedger(ledger: Ledger, event: FoldedEvent): Ledger {
  return { size: ledger.size + 1, last: { event: logged(event, ledger.size), prev: ledger.last } };
}

export function foldLedger(events: Iterable<FoldedEvent>, from: Ledger = initialLedger()): Ledger {
  let l = from;
  for (const e of events) l = evolveLedger(l, e);
  return l;
}

export function ledgerEvents(ledger: Ledger): LoggedEvent[] {
  const out: LoggedEvent[] = new Array(ledger.size);
  let i = ledger.size - 1;
  for (let n = ledger.last; n; n = n.prev) out[i--] = n.event;
  return out;
}

type Settling = { -readonly [K in 'position' | 'recordedAt']: FoldedEvent[K] };

/**
 * Gives the last events of the log the position and recording instant the store gave them. A
 * writer folds a command's events in before they are stored, so that the next command queued on
 * the PTCE can be decided on them and both be written in one transaction; they are then settled
 * here, once, while that writer still holds the PTCE. A corrected fact is a copy: it is settled too.
 */
export function settleLedger(ledger: Ledger, stored: readonly FoldedEvent[]): void {
  let node = ledger.last;
  // The compiled ledger may belong to any of these nodes, not only the last: the last command of
  // the batch was decided on its predecessors' events, and nothing compiled its own since.
  const compiledAt: { compiled: MutableCompiled; upTo: number }[] = [];
  for (let i = stored.length - 1; i >= 0; i--) {
    const event = stored[i]!;
    if (!node || node.event.eventId !== event.eventId) {
      throw new Error(`settleLedger: ${event.eventId} is not where the log has it`);
    }
    Object.assign(node.event as Settling, { position: event.position, recordedAt: event.recordedAt });
    const compiled = owned.get(node) ?? (staleSlot?.node === node ? staleSlot.compiled : undefined);
    if (compiled) compiledAt.push({ compiled, upTo: i });
    node = node.prev;
  }
  for (const { compiled, upTo } of compiledAt) {
    for (const event of stored.slice(0, upTo + 1)) {
      const fact = compiled.factsById.get(event.eventId);
      if (fact) Object.assign(fact as Settling, { position: event.position, recordedAt: event.recordedAt });
    }
    compiled.lastPosition = stored[upTo]!.position;
  }
}

export interface LedgerWarning {
  readonly eventId: string;
  readonly type: string;
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A valid-time fact: an event of the log, with its corrections applied and not retracted. */
export type Fact = LedgerEvent & {
  readonly eventId: string;
  /** Valid time, as corrected. */
  readonly occurredAt: ValidTime;
  readonly position: string;
  readonly recordedAt: string;
  readonly logIndex: number;
  /** Event ids of the corrections applied, in log order. */
  readonly correctedBy: readonly string[];
  readonly start: number;
  readonly isDate: boolean;
};

export interface KnownEvent {
  readonly eventId: string;
  readonly type: string;
  readonly logIndex: number;
  readonly occurredAt: string;
  /** Set when a later retraction in the log names it. */
  readonly retractedBy?: string;
}

export interface CompiledLedger {
  readonly ptceId: string | null;
  /** Facts in valid-time order: (start, date before instant, log order). */
  readonly facts: readonly Fact[];
  readonly factsById: ReadonlyMap<string, Fact>;
  /** Every event of the log by id, including corrections, retractions and retracted events. */
  readonly known: ReadonlyMap<string, LoggedEvent>;
  /** Retracted event id → the retraction's event id. */
  readonly retractions: ReadonlyMap<string, string>;
  /** Problems found while compiling (invalid data, corrections naming nothing…), whatever the valid time. */
  readonly warnings: readonly LedgerWarning[];
  readonly lastPosition: string | null;
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

const CORRECTION_TARGETS: Partial<Record<EventType, readonly EventType[]>> = {
  MembershipCorrected: ['MemberJoined', 'PtceRegistered'],
  LegalEntityCorrected: ['LegalEntityRegistered'],
  MeetingCorrected: ['MeetingHeld'],
  DecisionCorrected: ['DecisionRecorded'],
};

/** A fact being corrected: a copy of the logged event, which stays as it was recorded. */
interface MutableFact {
  event: LedgerEvent;
  occurredAt: string;
  correctedBy: string[];
  readonly logged: LoggedEvent;
}

interface MutableCompiled {
  ptceId: string | null;
  facts: Fact[];
  factsById: Map<string, Fact>;
  known: Map<string, LoggedEvent>;
  retractions: Map<string, string>;
  warnings: LedgerWarning[];
  lastPosition: string | null;
}

/**
 * The one compiled ledger kept per log, owned by the latest compiled node. Keeping one per node
 * (as a memo would) retains every version of a long history: tens of MB per command.
 */
const owned = new WeakMap<LogNode, MutableCompiled>();
/** Nodes whose compiled ledger was handed over to a descendant. */
const superseded = new WeakSet<LogNode>();
/** A stale reader's compile, kept for its next query only, so it does not outlive the reader. */
let staleSlot: { node: LogNode; compiled: MutableCompiled } | null = null;

/**
 * Bumped whenever facts change other than by a push at the end: a replay that applied a prefix
 * of the facts may go on from where it stopped only while the generation is unchanged.
 */
const generations = new WeakMap<CompiledLedger, number>();

/** Internal to the ledger: see `generations`. */
export function compiledGeneration(compiled: CompiledLedger): number {
  return generations.get(compiled) ?? 0;
}

interface Placed {
  readonly start: number;
  readonly isDate: boolean;
}

function timeOfValid(v: string): Placed {
  return { start: startInstant(v), isDate: isDateOnly(v) };
}

const EMPTY_COMPILED: CompiledLedger = {
  ptceId: null,
  facts: [],
  factsById: new Map(),
  known: new Map(),
  retractions: new Map(),
  warnings: [],
  lastPosition: null,
};

/**
 * The compiled facts of the ledger. The result belongs to the ledger's log: it stays valid until
 * a ledger extending this one is compiled, which updates it in place (query again after that).
 */
export function compileLedger(ledger: Ledger): CompiledLedger {
  const node = ledger.last;
  if (!node) return EMPTY_COMPILED;
  const own = owned.get(node);
  if (own) return own;
  if (staleSlot?.node === node) return staleSlot.compiled;

  // Walk back to the nearest compiled ancestor; the nodes in between are appended to it.
  const pending: LogNode[] = [];
  let base: MutableCompiled | undefined;
  let stale = false;
  for (let at: LogNode | null = node; at; at = at.prev) {
    if (superseded.has(at)) {
      stale = true;
      break;
    }
    base = at === node ? undefined : owned.get(at);
    if (base) {
      owned.delete(at);
      superseded.add(at);
      break;
    }
    pending.push(at);
  }
  if (stale) {
    const compiled = compile(ledgerEvents(ledger));
    staleSlot = { node, compiled };
    return compiled;
  }
  let compiled: MutableCompiled;
  if (base) {
    compiled = base;
    for (let i = pending.length - 1; i >= 0; i--) {
      if (!append(compiled, pending[i]!.event)) {
        compiled = compile(ledgerEvents(ledger));
        break;
      }
    }
  } else {
    compiled = compile(ledgerEvents(ledger));
  }
  owned.set(node, compiled);
  return compiled;
}

/** The logged event as a new valid-time fact, or null when it is anything else (a correction, invalid…). */
function asPlainFact(event: LoggedEvent): Fact | null {
  if (event.invalid || TRANSACTION_TIME_TYPES.has(event.type as EventType)) return null;
  return event as unknown as Fact;
}

/** Where `fact` goes in valid-time order: after every fact ordered before or with it. */
function insertionIndex(facts: readonly Fact[], fact: Fact): number {
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
 * The common case, a new valid-time fact appended to a compiled log, needs no recompilation:
 * the fact is inserted at its place (pushed when it is the latest). Anything else (a correction,
 * a retraction, an invalid or duplicate event) returns false: the caller recompiles the log.
 */
function append(c: MutableCompiled, event: LoggedEvent): boolean {
  if (c.known.has(event.eventId)) return false;
  const fact = asPlainFact(event);
  if (!fact) return false;
  const at = insertionIndex(c.facts, fact);
  if (at === c.facts.length) c.facts.push(fact);
  else {
    c.facts.splice(at, 0, fact);
    generations.set(c, compiledGeneration(c) + 1);
  }
  c.known.set(event.eventId, event);
  c.factsById.set(event.eventId, fact);
  c.ptceId ??= event.ptceId;
  c.lastPosition = event.position;
  return true;
}

/**
 * The facts that envelopes not yet in the log would add once appended after it, or null when one
 * of them would do anything else (a correction, a retraction, an invalid, duplicate or known event).
 */
export function pendingFacts(
  compiled: CompiledLedger,
  envelopes: readonly FoldedEvent[],
  size: number,
): Fact[] | null {
  const ids = new Set<string>();
  const out: Fact[] = [];
  for (const [i, env] of envelopes.entries()) {
    if (compiled.known.has(env.eventId) || ids.has(env.eventId)) return null;
    if (compiled.warnings.some((w) => w.eventId === env.eventId)) return null;
    const fact = asPlainFact(logged(env, size + i));
    if (!fact) return null;
    ids.add(env.eventId);
    out.push(fact);
  }
  return out;
}

/** The compiled facts with `extra` inserted at their places, as a new array. */
export function withFacts(facts: readonly Fact[], extra: readonly Fact[]): Fact[] {
  const out = facts.slice();
  for (const f of extra) out.splice(insertionIndex(out, f), 0, f);
  return out;
}

function compile(events: readonly LoggedEvent[]): MutableCompiled {
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
    } else if (already) {
      warn(event, 'already_retracted', `${target.eventId} was already retracted by ${already}`);
    } else {
      retractions.set(retracted, event.eventId);
    }
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
  list.sort(compareFacts);
  const first = events[0];
  return {
    ptceId: first ? first.ptceId : null,
    facts: list,
    factsById: new Map(list.map((f) => [f.eventId, f])),
    known,
    retractions,
    warnings,
    lastPosition: events.length ? (events[events.length - 1]?.position ?? null) : null,
  };
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
    ...timeOfValid(f.occurredAt),
  } as Fact;
}

/** Valid-time order: start, then a date before an instant, then log order. */
export function compareFacts(a: Fact, b: Fact): number {
  if (a.start !== b.start) return a.start - b.start;
  if (a.isDate !== b.isDate) return a.isDate ? -1 : 1;
  return a.logIndex - b.logIndex;
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

/** Where a replay in valid time stops. */
export type Cut =
  /** The state as of a valid time: a date includes its whole Paris day. */
  | { readonly kind: 'asOf'; readonly at: ValidTime }
  /** The state a new fact at `at` would meet: every fact ordered before it (it is appended last in the log). */
  | { readonly kind: 'before'; readonly at: ValidTime }
  | { readonly kind: 'all' };

export function cutAccepts(cut: Cut): (f: Fact) => boolean {
  switch (cut.kind) {
    case 'all':
      return () => true;
    case 'asOf': {
      const end = endInstant(cut.at);
      return (f) => f.start <= end;
    }
    case 'before': {
      const start = startInstant(cut.at);
      const date = isDateOnly(cut.at);
      // Same start: a date fact precedes anything; an instant fact precedes only an instant.
      return (f) => f.start < start || (f.start === start && (f.isDate || !date));
    }
    default: {
      const never: never = cut;
      return never;
    }
  }
}
