/**
 * What a writer hands to the store. The store fills in `stream`, `revision`, `position`,
 * `recordedAt`, `prevHash` and `hash` inside the append's transaction.
 */
export interface Evidence {
  readonly source?: string;
  readonly sha256?: string;
  readonly note?: string;
}

export interface NewEvent {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly ptceId: string;
  /** Valid time as the secretary gave it: `YYYY-MM-DD` (Europe/Paris day) or an ISO-8601 instant. */
  readonly occurredAt: string;
  readonly recordedBy: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly evidence?: Evidence;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly idempotencyKey?: string;
}

export interface EventEnvelope extends NewEvent {
  readonly stream: string;
  readonly revision: number;
  /** Opaque, fixed-width, compares correctly as a string. */
  readonly position: string;
  /** Transaction time, ISO-8601 instant with milliseconds, set by the store. */
  readonly recordedAt: string;
  readonly prevHash: string;
  readonly hash: string;
}
