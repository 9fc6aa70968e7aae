import {
  compareValidTime,
  type EventEnvelope,
  type EventType,
  type EvidenceData,
  startInstant,
  type ValidTime,
} from '@ptce/events';
import type { Ledger } from '../ledger/ledger.ts';
import { ledgerFinal } from '../ledger/queries.ts';
import { type LedgerState, replayLedger, warningsIfAppended } from '../ledger/state.ts';

export interface DecideContext {
  /** Epoch ms: the clock comes in as an argument so deciders stay pure. */
  readonly now: number;
}

export interface DomainEventToAppend {
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

export type DomainErrorStatus = 404 | 409 | 422;

export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly status: DomainErrorStatus,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 404, message, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 409, message, details);
export const unprocessable = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 422, message, details);

const DAY_MS = 86_400_000;

/** A secretary may record today's facts from any time zone, but nothing more than a day ahead. */
export function assertNotFuture(occurredAt: ValidTime, ctx: DecideContext): void {
  if (startInstant(occurredAt) > ctx.now + DAY_MS) {
    throw unprocessable('occurred_in_future', `occurredAt ${occurredAt} is more than one day in the future`, {
      occurredAt,
    });
  }
}

/** The state a fact at `at` would meet once appended: the facts ordered before it in valid time. */
export function stateBefore(ledger: Ledger, at: ValidTime): LedgerState {
  return replayLedger(ledger, { kind: 'before', at });
}

/** 404 when the PTCE was never registered, 422 when `at` is before its registration. */
export function assertRegisteredAt(ledger: Ledger, at: ValidTime, ctx: DecideContext): LedgerState {
  assertNotFuture(at, ctx);
  const registration = ledgerFinal(ledger).registration;
  if (!registration) throw notFound('ptce_not_found', 'this PTCE is not registered');
  const state = stateBefore(ledger, at);
  if (!state.registration || compareValidTime(at, registration.at) < 0) {
    throw unprocessable(
      'before_registration',
      `${at} is before the PTCE's registration on ${registration.at}`,
      {
        registeredAt: registration.at,
      },
    );
  }
  return state;
}

export function assertRegistered(ledger: Ledger): void {
  if (!ledgerFinal(ledger).registration) throw notFound('ptce_not_found', 'this PTCE is not registered');
}

/**
 * Backdated facts can make later facts impossible (a leave before an enrolment). Fold the ledger with
 * the new events and refuse when that makes the fold skip or flag anything it did not before.
 */
export function assertNoNewContradiction(
  ledger: Ledger,
  events: readonly DomainEventToAppend[],
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
  const fresh = warningsIfAppended(ledger, pending);
  if (fresh.length) {
    throw unprocessable(
      'contradicts_history',
      `this record contradicts the recorded history: ${fresh.map((w) => w.message).join('; ')}`,
      {
        conflicts: fresh.map((w) => ({ eventId: w.eventId, type: w.type, code: w.code, message: w.message })),
      },
    );
  }
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
