import type { Ledger } from '@ptce/domain';
import type { StoredEventText } from '@ptce/event-store';
import { type EventEnvelope, fieldAt, isSealedText, PERSONAL_FIELDS, type SealedText } from '@ptce/events';
import type { PersonalData } from '@ptce/platform';
import { DEFAULT_WINDOW_MONTHS, rulesVersion, type StageRules } from '@ptce/projections';
import { z } from 'zod';
import {
  eligibilityBody,
  legalTransitionBody,
  participationBody,
  revealState,
  stageBody,
  stateBody,
} from './answers.ts';

/** An event as an auditor reads it, through the API or the command line. */
export const auditedEventSchema = z.object({
  eventId: z.string(),
  type: z.string(),
  schemaVersion: z.number(),
  stream: z.string(),
  revision: z.number(),
  position: z.string(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  recordedBy: z.string(),
  data: z
    .record(z.string(), z.unknown())
    .describe('as stored, which the hash covers: personal fields sealed'),
  evidence: z.record(z.string(), z.unknown()).optional(),
  hash: z.string(),
  prevHash: z.string(),
  personal: z
    .record(z.string(), z.string().nullable())
    .optional()
    .describe(
      "a natural person's sealed fields opened, by path in `data` (e.g. `name`, `pilot.name`); null once the person was erased",
    ),
});
export type AuditedEvent = z.infer<typeof auditedEventSchema>;

function sealedFieldsOf(event: Pick<EventEnvelope, 'type' | 'data'>): [string, SealedText][] {
  const rule = PERSONAL_FIELDS[event.type];
  if (!rule) return [];
  return rule.paths.flatMap((path) => {
    const value = fieldAt(event.data, path);
    return isSealedText(value) ? [[path.join('.'), value] as [string, SealedText]] : [];
  });
}

/** The events as an auditor reads them: as stored, with a natural person's fields opened beside. */
export async function auditedEvents(
  events: readonly EventEnvelope[],
  personalData: PersonalData,
): Promise<AuditedEvent[]> {
  const sealed = events.flatMap(sealedFieldsOf).map(([, value]) => value);
  const clear = sealed.length > 0 ? await personalData.reveal(sealed) : new Map<SealedText, string | null>();
  return events.map((event) => {
    const fields = sealedFieldsOf(event);
    return {
      eventId: event.eventId,
      type: event.type,
      schemaVersion: event.schemaVersion,
      stream: event.stream,
      revision: event.revision,
      position: event.position,
      occurredAt: event.occurredAt,
      recordedAt: event.recordedAt,
      recordedBy: event.recordedBy,
      data: event.data as Record<string, unknown>,
      ...(event.evidence ? { evidence: event.evidence as Record<string, unknown> } : {}),
      hash: event.hash,
      prevHash: event.prevHash,
      ...(fields.length > 0
        ? { personal: Object.fromEntries(fields.map(([path, value]) => [path, clear.get(value) ?? null])) }
        : {}),
    };
  });
}

const text = JSON.stringify;

/**
 * Stored data as it stands in a line. Text the store vouches for as one JSON value (see
 * StoredEventText) is written as it is unless it holds a line break (JSON allows them between
 * tokens); any other is parsed and written again. Either way no stored data, however rewritten,
 * can break the line or add a field to it.
 */
function dataInLine(event: StoredEventText): string {
  const { dataJson } = event;
  if (event.dataVouched && dataJson.indexOf('\n') === -1 && dataJson.indexOf('\r') === -1) return dataJson;
  return JSON.stringify(JSON.parse(dataJson));
}

/**
 * The same events as `auditedEvents` gives, as NDJSON lines (one per event, in its key order),
 * UTF-8, from what the store holds: `data` is written out as stored where the store vouches for
 * it, and parsed only for an event type that has personal fields, to find the sealed ones to open.
 */
export async function auditedEventLines(
  events: readonly StoredEventText[],
  personalData: PersonalData,
): Promise<Buffer> {
  const sealedOf = events.map((event) =>
    PERSONAL_FIELDS[event.type]
      ? sealedFieldsOf({
          type: event.type,
          data: JSON.parse(event.dataJson) as Record<string, unknown>,
        })
      : [],
  );
  const sealed = sealedOf.flat().map(([, value]) => value);
  const clear = sealed.length > 0 ? await personalData.reveal(sealed) : new Map<SealedText, string | null>();
  const lines: string[] = [];
  let bound = 0;
  for (const [i, event] of events.entries()) {
    const evidence =
      event.metadataJson === null
        ? undefined
        : (JSON.parse(event.metadataJson) as { evidence?: unknown }).evidence;
    const fields = sealedOf[i]!;
    const personal =
      fields.length > 0
        ? `,"personal":${text(Object.fromEntries(fields.map(([path, value]) => [path, clear.get(value) ?? null])))}`
        : '';
    const line = `{"eventId":${text(event.eventId)},"type":${text(event.type)},"schemaVersion":${event.schemaVersion},"stream":${text(event.stream)},"revision":${event.revision},"position":${text(event.position)},"occurredAt":${text(event.occurredAt)},"recordedAt":${text(event.recordedAt)},"recordedBy":${text(event.recordedBy)},"data":${dataInLine(event)}${evidence ? `,"evidence":${text(evidence)}` : ''},"hash":${text(event.hash)},"prevHash":${text(event.prevHash)}${personal}}\n`;
    lines.push(line);
    bound += line.length;
  }
  // Each line encoded straight into one buffer, UTF-8 taking at most 3 bytes per UTF-16 unit: a
  // Buffer made of each part of every line, then copied again by a concat, was a good share of an
  // export's time and garbage, and so was one string of them all, flattened to be encoded.
  const out = Buffer.allocUnsafe(3 * bound);
  let at = 0;
  for (const line of lines) at += out.write(line, at, 'utf8');
  return out.subarray(0, at);
}

/**
 * Every read-side answer for one (asOf, log cut) together, a natural person named, as an auditor
 * replays it; null when the cut holds no registration.
 */
export async function replayBody(input: {
  readonly ptceId: string;
  readonly ledger: Ledger;
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly rules: StageRules;
  readonly personalData: PersonalData;
}) {
  const { ptceId, ledger, asOf, rules } = input;
  const last = ledger.last?.event;
  const state = stateBody(ptceId, ledger, asOf);
  if (!last || state === null) return null;
  return {
    ptceId,
    asOf,
    knownAt: input.knownAt,
    position: last.position,
    rulesVersion: rulesVersion(rules),
    eventsApplied: ledger.size,
    lastPosition: last.position,
    warnings: state.warnings,
    state: await revealState(state, input.personalData),
    stage: stageBody(ledger, asOf, rules),
    participation: participationBody(ledger, asOf, DEFAULT_WINDOW_MONTHS),
    legalTransition: legalTransitionBody(ledger, asOf),
    eligibility: eligibilityBody(ledger, asOf),
  };
}
