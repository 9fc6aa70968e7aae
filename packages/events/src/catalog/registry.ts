import type { z } from 'zod';
import { isInputRuleIssue } from '../text.ts';
import { decisionAnnulledSchema, decisionCorrectedSchema, decisionRecordedSchema } from './decisions.ts';
import {
  associateAdmittedSchema,
  associateWithdrewSchema,
  eventRetractedSchema,
  legalEntityCorrectedSchema,
  legalEntityRegisteredSchema,
  memberLeftSchema,
  membershipCorrectedSchema,
  personalDataErasedSchema,
  pilotHandedOverSchema,
  recognitionGrantedSchema,
  storedMemberJoinedSchema,
  storedPtceRegisteredSchema,
} from './membership.ts';
import {
  activityEndedSchema,
  activityLaunchedSchema,
  carrierJoinedSchema,
  meetingCorrectedSchema,
  meetingHeldSchema,
  memberEnrolledSchema,
  memberWithdrawnFromSpaceSchema,
  spaceClosedSchema,
  spaceOpenedSchema,
  spaceRulesChangedSchema,
} from './working-groups.ts';

export type StreamFamily = 'membership' | 'workgroups' | 'decisions';

/** Stream names: one stream per family per PTCE. */
export function streamName(family: StreamFamily, ptceId: string): string {
  return `${family}-${ptceId}`;
}

/**
 * Every stream of a PTCE: a write reads them all (a membership fact can contradict an enrolment
 * recorded later, and the deciders must see it to refuse it), and a read merges them into the
 * PTCE's one log. One list, so the two sides never disagree on what a PTCE's history is.
 */
export function ptceStreams(ptceId: string): readonly string[] {
  return [
    streamName('membership', ptceId),
    streamName('workgroups', ptceId),
    streamName('decisions', ptceId),
  ];
}

/** Turns data written under `schemaVersion = from` into data of version `from + 1`. */
export type Upcaster = (data: Readonly<Record<string, unknown>>) => Record<string, unknown>;

export interface CatalogEntry<S extends z.ZodType = z.ZodType> {
  readonly family: StreamFamily;
  readonly schemaVersion: number;
  readonly schema: S;
  /** Keyed by the version they upcast from. */
  readonly upcasters: Readonly<Record<number, Upcaster>>;
}

function entry<S extends z.ZodType>(family: StreamFamily, schema: S): CatalogEntry<S> {
  return { family, schemaVersion: 1, schema, upcasters: {} };
}

export const eventCatalog = {
  PtceRegistered: entry('membership', storedPtceRegisteredSchema),
  MemberJoined: entry('membership', storedMemberJoinedSchema),
  MemberLeft: entry('membership', memberLeftSchema),
  MembershipCorrected: entry('membership', membershipCorrectedSchema),
  PilotHandedOver: entry('membership', pilotHandedOverSchema),
  LegalEntityRegistered: entry('membership', legalEntityRegisteredSchema),
  LegalEntityCorrected: entry('membership', legalEntityCorrectedSchema),
  AssociateAdmitted: entry('membership', associateAdmittedSchema),
  AssociateWithdrew: entry('membership', associateWithdrewSchema),
  RecognitionGranted: entry('membership', recognitionGrantedSchema),
  EventRetracted: entry('membership', eventRetractedSchema),
  PersonalDataErased: entry('membership', personalDataErasedSchema),
  SpaceOpened: entry('workgroups', spaceOpenedSchema),
  MemberEnrolled: entry('workgroups', memberEnrolledSchema),
  MemberWithdrawnFromSpace: entry('workgroups', memberWithdrawnFromSpaceSchema),
  MeetingHeld: entry('workgroups', meetingHeldSchema),
  MeetingCorrected: entry('workgroups', meetingCorrectedSchema),
  SpaceRulesChanged: entry('workgroups', spaceRulesChangedSchema),
  SpaceClosed: entry('workgroups', spaceClosedSchema),
  ActivityLaunched: entry('workgroups', activityLaunchedSchema),
  CarrierJoined: entry('workgroups', carrierJoinedSchema),
  ActivityEnded: entry('workgroups', activityEndedSchema),
  DecisionRecorded: entry('decisions', decisionRecordedSchema),
  DecisionCorrected: entry('decisions', decisionCorrectedSchema),
  DecisionAnnulled: entry('decisions', decisionAnnulledSchema),
} as const;

export type EventCatalog = typeof eventCatalog;
export type EventType = keyof EventCatalog;
export const eventTypes = Object.keys(eventCatalog) as EventType[];

export type EventData<T extends EventType> = z.infer<EventCatalog[T]['schema']>;

/** Every event as the domain sees it: a discriminated union on `type`. */
export type LedgerEvent = { [T in EventType]: { readonly type: T; readonly data: EventData<T> } }[EventType];
export type LedgerEventOf<T extends EventType> = Extract<LedgerEvent, { type: T }>;

/** Corrections and retractions act in transaction time: the fold applies them in log order. */
export const TRANSACTION_TIME_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'MembershipCorrected',
  'LegalEntityCorrected',
  'MeetingCorrected',
  'DecisionCorrected',
  'EventRetracted',
  'PersonalDataErased',
]);

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventCatalog, type);
}

export function streamFamilyOf(type: EventType): StreamFamily {
  return eventCatalog[type].family;
}

export class UnknownEventTypeError extends Error {
  constructor(readonly eventType: string) {
    super(`unknown event type ${JSON.stringify(eventType)}`);
    this.name = 'UnknownEventTypeError';
  }
}

export class InvalidEventDataError extends Error {
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly issues: readonly { readonly path: string; readonly message: string }[],
  ) {
    super(
      `invalid data for ${eventType} v${schemaVersion}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
    );
    this.name = 'InvalidEventDataError';
  }
}

export interface ParsableEvent {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Validates `data` against the schema of its type, first upcasting it step by step from an
 * older `schemaVersion`. Throws UnknownEventTypeError or InvalidEventDataError; data that only
 * breaks rules on input added since it was stored (`INPUT_RULE`) is read as stored.
 * `catalog` is a parameter so the upcasting path can be exercised with another registry.
 */
export function parseEvent(
  envelope: ParsableEvent,
  catalog: Readonly<Record<string, CatalogEntry>> = eventCatalog,
): LedgerEvent {
  const entry = Object.hasOwn(catalog, envelope.type) ? catalog[envelope.type] : undefined;
  if (!entry) throw new UnknownEventTypeError(envelope.type);
  let version = envelope.schemaVersion;
  if (!Number.isInteger(version) || version < 1 || version > entry.schemaVersion) {
    throw new InvalidEventDataError(envelope.type, version, [
      { path: 'schemaVersion', message: `unsupported version (current is ${entry.schemaVersion})` },
    ]);
  }
  let data: Readonly<Record<string, unknown>> = envelope.data;
  while (version < entry.schemaVersion) {
    const up = entry.upcasters[version];
    if (!up) {
      throw new InvalidEventDataError(envelope.type, version, [
        { path: 'schemaVersion', message: `no upcaster from version ${version}` },
      ]);
    }
    data = up(data);
    version += 1;
  }
  const result = entry.schema.safeParse(data);
  if (!result.success) {
    // Broken only by rules stricter than the ones it was written under: the history stays as
    // it was recorded (a member whose name held a zero-width space is still a member).
    if (result.error.issues.every(isInputRuleIssue)) {
      return { type: envelope.type, data: { ...data } } as LedgerEvent;
    }
    throw new InvalidEventDataError(
      envelope.type,
      envelope.schemaVersion,
      result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  return { type: envelope.type, data: result.data } as LedgerEvent;
}
