import { type EventEnvelope, eventCatalog, isEventType, streamName } from '@ptce/events';

/** Builds stored envelopes in log order, with increasing positions and recordedAt instants. */
export class LogBuilder {
  private n = 0;
  readonly events: EventEnvelope[] = [];
  constructor(
    readonly ptceId = 'val-coop',
    private clock = Date.parse('2024-01-01T00:00:00Z'),
  ) {}

  add(type: string, occurredAt: string, data: Record<string, unknown>, eventId?: string): EventEnvelope {
    this.n += 1;
    this.clock += 1000;
    const family = isEventType(type) ? eventCatalog[type].family : 'membership';
    const env: EventEnvelope = {
      eventId: eventId ?? `e${this.n}`,
      type,
      schemaVersion: 1,
      ptceId: this.ptceId,
      occurredAt,
      recordedBy: 'secretary',
      data,
      stream: streamName(family, this.ptceId),
      revision: this.n - 1,
      position: String(this.n).padStart(12, '0'),
      recordedAt: new Date(this.clock).toISOString(),
      prevHash: '',
      hash: '',
    };
    this.events.push(env);
    return env;
  }

  /** Transaction-time events carry the recording instant as occurredAt. */
  now(type: string, data: Record<string, unknown>, eventId?: string): EventEnvelope {
    return this.add(type, new Date(this.clock + 1000).toISOString(), data, eventId);
  }
}
