/**
 * Appends as fast as it can until killed, printing one line per acknowledged append: the event
 * ids of the batch. Lines written to a pipe are handed to the kernel synchronously on Linux, so
 * every printed line reaches the parent even when this process dies by SIGKILL right after.
 */
import { randomUUID } from 'node:crypto';
import { openEventStore } from '../src/open.ts';
import { newEvent } from './fixtures.ts';

const [url, prefix] = process.argv.slice(2);
if (url === undefined || prefix === undefined) throw new Error('usage: crash-child.ts <url> <stream-prefix>');

const store = await openEventStore(url);
const streams = Array.from({ length: 10 }, (_, i) => `${prefix}-${i}`);
const heads = new Map<string, number | null>();
for (const stream of streams) heads.set(stream, await store.streamRevision(stream));
process.stdout.write('ready\n');

for (let n = 0; ; n++) {
  const stream = streams[n % streams.length]!;
  const head = heads.get(stream) ?? null;
  const batch = randomUUID();
  const size = 1 + (n % 3);
  const events = Array.from({ length: size }, () =>
    newEvent({ correlationId: batch, data: { batch, size } }),
  );
  const result = await store.append(stream, events, { expectedRevision: head === null ? 'no_stream' : head });
  heads.set(stream, result.nextRevision);
  process.stdout.write(`${events.map((e) => e.eventId).join(',')}\n`);
}
