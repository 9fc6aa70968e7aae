import { randomBytes, randomUUID } from 'node:crypto';
import { type EventStore, openStores, type Stores } from '@ptce/event-store';
import { type NewEvent, streamName } from '@ptce/events';
import { PersonalData } from '@ptce/platform';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { auditedEventLines, auditedEvents } from '../src/audit-answers.ts';
import { ptceEvents, ptceEventTextRuns } from '../src/audit-log.ts';

let stores: Stores;
let personal: PersonalData;

const fact = (type: string, data: Record<string, unknown>, extra: Partial<NewEvent> = {}): NewEvent => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  ptceId: 'lines',
  occurredAt: '2020-01-01',
  recordedBy: 'lines-test',
  data,
  ...extra,
});

beforeAll(async () => {
  stores = await openStores('sqlite::memory:');
  personal = await PersonalData.open(stores.personalKeys, randomBytes(32));
  const sealed = (await personal.prepare(['lines/citoyenne'])).seal(
    'lines/citoyenne',
    'Émilie "Mimi" Dupont\n',
  );
  await stores.events.append(
    streamName('membership', 'lines'),
    [
      fact('PtceRegistered', { name: 'Pôle <lignes>', territory: { name: 'T' } }),
      fact(
        'MemberJoined',
        { organisationId: 'citoyenne', name: sealed, category: 'natural_person' },
        { evidence: { source: 'minutes 2020-01', sha256: 'ab'.repeat(32) }, correlationId: 'c-1' },
      ),
      fact('MemberJoined', {
        organisationId: 'garage',
        name: 'Garage \u2028 du coin',
        category: 'enterprise',
      }),
    ],
    { expectedRevision: 'no_stream' },
  );
  await stores.events.append(
    streamName('workgroups', 'lines'),
    [fact('SpaceOpened', { spaceId: 'copil', kind: 'strategic', name: 'Copil' }, { idempotencyKey: 'k' })],
    { expectedRevision: 'no_stream' },
  );
});
afterAll(() => stores.close());

const collect = async <T>(events: AsyncIterable<T>) => {
  const all: T[] = [];
  for await (const event of events) all.push(event);
  return all;
};
const collectRuns = async <T>(runs: AsyncIterable<readonly T[]>) => (await collect(runs)).flat() as T[];

/** What the paged answer gives, as JSON would carry it. */
const paged = async (store: EventStore) =>
  JSON.parse(JSON.stringify(await auditedEvents(await collect(ptceEvents(store, 'lines')), personal)));

test('the NDJSON lines made from the stored text are the paged answer, event for event, key for key', async () => {
  const lines = (
    await auditedEventLines(await collectRuns(ptceEventTextRuns(stores.events, 'lines')), personal)
  ).toString('utf8');
  const parsed = lines
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
  const expected = await paged(stores.events);
  expect(parsed).toEqual(expected);
  expect(parsed.map((event) => Object.keys(event))).toEqual(
    expected.map((event: object) => Object.keys(event)),
  );
  expect(parsed[1].personal).toEqual({ name: 'Émilie "Mimi" Dupont\n' });
  expect(parsed[1].evidence).toEqual({ source: 'minutes 2020-01', sha256: 'ab'.repeat(32) });
  expect(lines.split('\n')).toHaveLength(5);
});

test('a store that keeps no text (KurrentDB) gives the same lines through its parsed events', async () => {
  const store = stores.events;
  const parsedOnly = {
    kind: store.kind,
    headPosition: () => store.headPosition(),
    readStream: (stream, options) => store.readStream(stream, options),
    streamRevision: (stream) => store.streamRevision(stream),
  } as Pick<EventStore, 'kind' | 'headPosition' | 'readStream' | 'streamRevision'> as EventStore;
  const native = (
    await auditedEventLines(await collectRuns(ptceEventTextRuns(store, 'lines')), personal)
  ).toString('utf8');
  const served = (
    await auditedEventLines(await collectRuns(ptceEventTextRuns(parsedOnly, 'lines')), personal)
  ).toString('utf8');
  expect(served.split('\n').map((line) => (line ? JSON.parse(line) : line))).toEqual(
    native.split('\n').map((line) => (line ? JSON.parse(line) : line)),
  );
});

test('stored data with line breaks between its tokens, vouched for or not, is written again on one line', async () => {
  const [stored] = await collectRuns(ptceEventTextRuns(stores.events, 'lines'));
  const spread = '{\r\n  "name": "Pôle <lignes>",\n  "territory": {"name": "T"}\n}';
  const carriageReturnsOnly = spread.replace(/\r?\n/g, '\r');
  const cases = [spread, carriageReturnsOnly].flatMap((dataJson) =>
    [true, false].map((dataVouched) => ({ dataJson, dataVouched })),
  );
  for (const { dataJson, dataVouched } of cases) {
    const lines = (await auditedEventLines([{ ...stored!, dataJson, dataVouched }], personal)).toString(
      'utf8',
    );
    expect(lines.indexOf('\n')).toBe(lines.length - 1);
    expect(lines).not.toContain('\r');
    expect(JSON.parse(lines).data).toEqual({ name: 'Pôle <lignes>', territory: { name: 'T' } });
  }
});

test('runs past the chunk size hold every event of the PTCE once, in log order, with the filters applied', async () => {
  // Two streams written in uneven turns, well past the 500 events a stream is read by.
  const streams = [streamName('membership', 'merged'), streamName('workgroups', 'merged')];
  const revisions = [-1, -1];
  const day = (i: number) => new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
  let written = 0;
  for (let turn = 0; written < 1_300; turn++) {
    const s = turn % 3 === 2 ? 1 : 0;
    const size = 1 + ((turn * 37) % 90);
    const batch = Array.from({ length: size }, (_, k) =>
      fact('Test', { n: written + k }, { ptceId: 'merged', occurredAt: day(written + k) }),
    );
    await stores.events.append(streams[s]!, batch, {
      expectedRevision: revisions[s] === -1 ? 'no_stream' : revisions[s]!,
    });
    revisions[s]! += size;
    written += size;
  }
  const log = (await stores.events.readAll()).filter((event) => event.ptceId === 'merged');
  const ids = async (filter: Parameters<typeof ptceEventTextRuns>[2]) =>
    (await collectRuns(ptceEventTextRuns(stores.events, 'merged', filter))).map((event) => event.eventId);
  expect(await ids({})).toEqual(log.map((event) => event.eventId));
  const after = log[612]!.position;
  expect(await ids({ after })).toEqual(log.slice(613).map((event) => event.eventId));
  const until = day(800);
  expect(await ids({ until })).toEqual(
    log.filter((event) => event.occurredAt <= until).map((event) => event.eventId),
  );
});
