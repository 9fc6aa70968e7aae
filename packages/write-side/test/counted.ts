import { type NewEvent, newEventId } from '@ptce/events';

/** An event that only carries a number: the repository tests fold them into lists. */
export const countedEvent = (n: unknown, eventId = newEventId()): NewEvent => ({
  eventId,
  type: 'Counted',
  schemaVersion: 1,
  ptceId: 'p',
  occurredAt: '2020-01-01',
  recordedBy: 'test',
  data: { n },
});
