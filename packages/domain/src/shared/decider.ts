import {
  compareValidTime,
  type EventEnvelope,
  type EventType,
  type EvidenceData,
  startInstant,
  TRANSACTION_TIME_TYPES,
  type ValidTime,
} from '@ptce/events';
import { ALL } from '../ledger/cuts.ts';
import { warningsIfAppended } from '../ledger/dry-run.ts';
import type { CompiledLedger, Ledger, LedgerState } from '../ledger/types.ts';
import { refuse } from './refusals.ts';

export interface DecideContext {
  /** Epoch ms: the clock comes in as an argument so deciders stay pure. */
  readonly now: number;
}

export interface EventToAppend {
  readonly type: EventType;
  readonly data: Readonly<Record<string, unknown>>;
  /** Valid time; for corrections and retractions the recording instant (the service overwrites it). */
  readonly occurredAt: ValidTime;
  readonly evidence?: EvidenceData;
}

/** A command that records a fact: when it happened, and on what evidence. */
export interface Dated {
  readonly occurredAt: ValidTime;
  readonly evidence?: EvidenceData;
}

/** A command acting in transaction time (a correction, a retraction): no occurredAt of its own. */
export interface Undated {
  readonly evidence?: EvidenceData;
}

const DAY_MS = 86_400_000;

/** A secretary may record today's facts from any time zone, but nothing more than a day ahead. */
export function assertNotFuture(occurredAt: ValidTime, ctx: DecideContext): void {
  if (startInstant(occurredAt) > ctx.now + DAY_MS) {
    throw refuse('occurred_in_future', `occurredAt ${occurredAt} is more than one day in the future`, {
      occurredAt,
    });
  }
}

/*
 * What a decider reads of the ledger is borrowed from its cache (`LedgerCache.borrowState`): read
 * while deciding and never kept, it need not be copied when the next command's ledger is compiled.
 */

/** The state once every fact is applied, whatever its valid time. */
export function finalState(ledger: Ledger): LedgerState {
  return ledger.cache.borrowState(ledger, ALL);
}

/** The state a fact at `at` would meet once appended: the facts ordered before it in valid time. */
export function stateBefore(ledger: Ledger, at: ValidTime): LedgerState {
  return ledger.cache.borrowState(ledger, { kind: 'before', at });
}

export function compiledOf(ledger: Ledger): CompiledLedger {
  return ledger.cache.borrowCompiled(ledger);
}

/** 404 when the PTCE was never registered, 422 when `at` is before its registration. */
export function assertRegisteredAt(ledger: Ledger, at: ValidTime, ctx: DecideContext): LedgerState {
  assertNotFuture(at, ctx);
  const registration = finalState(ledger).registration;
  if (!registration) throw refuse('ptce_not_found', 'this PTCE is not registered');
  const state = stateBefore(ledger, at);
  if (!state.registration || compareValidTime(at, registration.at) < 0) {
    throw refuse('before_registration', `${at} is before the PTCE's registration on ${registration.at}`, {
      registeredAt: registration.at,
    });
  }
  return state;
}

export function assertRegistered(ledger: Ledger): void {
  if (!finalState(ledger).registration) throw refuse('ptce_not_found', 'this PTCE is not registered');
}

/**
 * Warnings a write may raise without being refused. `outcome_differs` says that a decision's
 * stored outcome no longer follows from the history as now known: the write that reveals it
 * (a backdated enrolment, a corrected attendance) records facts that are true, and refusing it
 * would keep the ledger wrong to keep the decision looking right. The decision itself stands as
 * the body took it until it is corrected; the warning is there for the auditor to see on every
 * read, which is the point of keeping it rather than hiding the new fact.
 */
export const NOT_CONTRADICTIONS: ReadonlySet<string> = new Set(['outcome_differs']);

/** The most conflicts a refusal lists: moving a registration can break every fact of a PTCE. */
const MAX_CONFLICTS_LISTED = 100;
const MAX_CONFLICTS_IN_DETAIL = 5;

function whatIsRecorded(events: readonly EventToAppend[]): string {
  const type = events[0]?.type;
  if (type === 'EventRetracted') return 'retraction';
  if (type !== undefined && TRANSACTION_TIME_TYPES.has(type)) return 'correction';
  return 'record';
}

/**
 * The ledger never creates a history that contradicts itself. Nothing recorded is ever changed: a
 * wrong record is fixed by a correction or a retraction, and those can break other facts as surely
 * as a backdated fact can (a join corrected to after the enrolments that needed it, a retracted
 * enrolment whose member attended a meeting). So every write is dry-run here the same way: fold
 * the ledger with the new events and refuse them when the fold would skip or flag anything it did
 * not before, naming those facts — the secretary corrects or retracts them first. Contradictions
 * already in the history (written by other tools) are not new: they neither block a write nor
 * stop the fold, which skips what cannot apply and reports it as a warning.
 */
export function assertNoNewContradiction(
  ledger: Ledger,
  events: readonly EventToAppend[],
  ctx: DecideContext,
): void {
  const ptceId = ledger.last?.event.ptceId ?? 'pending';
  const pending = events.map(
    (e, i): EventEnvelope => ({
      eventId: `pending-${i}`,
      type: e.type,
      schemaVersion: 1,
      ptceId,
      occurredAt: e.occurredAt,
      recordedBy: 'pending',
      data: e.data,
      stream: 'pending',
      revision: -1,
      position: '\uffff',
      recordedAt: new Date(ctx.now).toISOString(),
      prevHash: '',
      hash: '',
    }),
  );
  const fresh = warningsIfAppended(ledger, pending).filter((w) => !NOT_CONTRADICTIONS.has(w.code));
  if (fresh.length === 0) return;
  const what = whatIsRecorded(events);
  const shown = fresh.slice(0, MAX_CONFLICTS_IN_DETAIL).map((w) => w.message);
  const more = fresh.length - shown.length;
  throw refuse(
    'contradicts_history',
    `this ${what} contradicts the recorded history: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}` +
      (what === 'record' ? '' : ' (correct or retract those facts first)'),
    {
      conflicts: fresh.slice(0, MAX_CONFLICTS_LISTED).map((w) => ({
        eventId: w.eventId,
        type: w.type,
        code: w.code,
        message: w.message,
        ...(w.details ? { details: w.details } : {}),
      })),
      ...(fresh.length > MAX_CONFLICTS_LISTED
        ? { conflictsNotListed: fresh.length - MAX_CONFLICTS_LISTED }
        : {}),
    },
  );
}

export function withEvidence(evidence: EvidenceData | undefined): { evidence?: EvidenceData } {
  return evidence ? { evidence } : {};
}

export function transactionTime(ctx: DecideContext): ValidTime {
  return new Date(ctx.now).toISOString();
}

export function hasFields(fields: Readonly<Record<string, unknown>>): boolean {
  return Object.values(fields).some((v) => v !== undefined);
}

/** The object without its undefined fields, so that event data never carries a `key: undefined`. */
export function withoutUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
