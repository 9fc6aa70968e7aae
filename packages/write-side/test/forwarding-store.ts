import type { EventStore } from '@ptce/event-store';

/**
 * `store` seen through a wrapper: every method a store must have forwarded to it, those of
 * `overrides` in their place. The optional reads are left out, so that a fold reads through
 * `readStream` (and its override) as it does on a store that has no leaner read.
 */
export function forwardingStore(
  store: EventStore,
  overrides: Partial<Omit<EventStore, 'readStreamForFold' | 'readStreamText'>> = {},
): EventStore {
  return {
    kind: store.kind,
    append: (s, e, o) => store.append(s, e, o),
    readStream: (s, o) => store.readStream(s, o),
    streamRevision: (s) => store.streamRevision(s),
    readAll: (o) => store.readAll(o),
    headPosition: () => store.headPosition(),
    subscribe: (h, o) => store.subscribe(h, o),
    ping: () => store.ping(),
    close: () => store.close(),
    ...overrides,
  };
}
