import { randomUUID } from 'node:crypto';
import type { NewEvent } from '@ptce/events';

/** Shared by the contract suite and the crash child, which must not import vitest. */
export function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'MemberJoined',
    schemaVersion: 1,
    ptceId: 'val-coop',
    occurredAt: '2024-01-15',
    recordedBy: 'secretary@val-coop',
    data: { organisationId: 'org-1', n: Math.random() },
    ...overrides,
  };
}

export function streamName(prefix = 's'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
