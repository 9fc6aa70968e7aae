import { type EventStore, readStreamText, type StoredCheckpoint } from '@ptce/event-store';
import { type EventEnvelope, endInstant, ptceStreams, startInstant, verifyChain } from '@ptce/events';
import type { SnapshotPublicKey } from '@ptce/platform';
import { checkpointSignatureProblem, type SignedCheckpoint } from './checkpoints.ts';

/** Which events of the PTCE's log an audit read returns. */
export interface EventFilter {
  /** Exclusive: events strictly after this position. */
  readonly after?: string | undefined;
  /** Valid time: events whose fact happened by then (a date: the end of that Paris day). */
  readonly until?: string | undefined;
  /**
   * Transaction time, as every read takes it: the longest prefix of the log whose events were all
   * recorded by then, so an answer never holds a correction without what it corrects.
   */
  readonly knownAt?: string | undefined;
}

/** Events read from one stream at a time: memory stays the same whatever the history's length. */
const CHUNK = 500;

/** The first revision of the stream whose position is after `after`: a binary search, a few reads. */
async function firstRevisionAfter(store: EventStore, stream: string, after: string): Promise<number> {
  const last = await store.streamRevision(stream);
  if (last === null) return 0;
  let low = 0;
  let high = last + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    const [event] = await store.readStream(stream, { fromRevision: mid, limit: 1 });
    if (event === undefined || event.position > after) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** What the merge reads of an event, whether parsed or as stored text. */
interface Placed {
  readonly position: string;
  readonly recordedAt: string;
  readonly occurredAt: string;
}

/**
 * The PTCE's events in log order, its three streams merged by position, read in chunks. Only
 * events up to the store's head when the read began: every one of them is committed and visible
 * (on PostgreSQL the head stops short of a transaction still open), so no event of one stream
 * can turn up later with a position before one already given from another.
 */
export function ptceEvents(store: EventStore, ptceId: string, filter: EventFilter = {}) {
  return mergedStreams(store, ptceId, filter, (stream, fromRevision) =>
    store.readStream(stream, { fromRevision, limit: CHUNK }),
  );
}

/**
 * `ptceEvents` with each event's data and metadata as the store holds their text, in runs of
 * events in log order: what an export writes out without parsing every event to serialize it
 * again, nor taking an asynchronous step per event.
 */
export function ptceEventTextRuns(store: EventStore, ptceId: string, filter: EventFilter = {}) {
  return mergedRuns(store, ptceId, filter, (stream, fromRevision) =>
    readStreamText(store, stream, { fromRevision, limit: CHUNK }),
  );
}

async function* mergedStreams<E extends Placed>(
  store: EventStore,
  ptceId: string,
  filter: EventFilter,
  read: (stream: string, fromRevision: number) => Promise<E[]>,
): AsyncGenerator<E> {
  for await (const run of mergedRuns(store, ptceId, filter, read)) yield* run;
}

/** The streams merged by position, as runs between two reads of a stream (at most three chunks). */
async function* mergedRuns<E extends Placed>(
  store: EventStore,
  ptceId: string,
  filter: EventFilter,
  read: (stream: string, fromRevision: number) => Promise<E[]>,
): AsyncGenerator<E[]> {
  const head = await store.headPosition();
  if (head === null) return;
  const streams = ptceStreams(ptceId);
  const next = await Promise.all(
    streams.map((stream) =>
      filter.after === undefined ? 0 : firstRevisionAfter(store, stream, filter.after),
    ),
  );
  const buffers: E[][] = streams.map(() => []);
  /** Where each buffer's next event is: shifting a 500-event array for every event costs more than the read. */
  const at = streams.map(() => 0);
  const done = streams.map(() => false);
  const knownAt = filter.knownAt === undefined ? undefined : endInstant(filter.knownAt);
  const until = filter.until === undefined ? undefined : endInstant(filter.until);
  for (;;) {
    for (const [i, stream] of streams.entries()) {
      if (at[i]! < buffers[i]!.length || done[i]) continue;
      const chunk = await read(stream, next[i]!);
      const visible = chunk.filter((event) => event.position <= head);
      buffers[i] = visible;
      at[i] = 0;
      next[i]! += chunk.length;
      if (chunk.length < CHUNK || visible.length < chunk.length) done[i] = true;
    }
    const run: E[] = [];
    let ended = false;
    // Until a stream's buffer runs dry: its next event may come before every other buffered one.
    for (;;) {
      let first = -1;
      let firstPosition = '';
      for (const [i, buffer] of buffers.entries()) {
        const candidate = buffer[at[i]!];
        if (candidate && (first < 0 || candidate.position < firstPosition)) {
          first = i;
          firstPosition = candidate.position;
        }
      }
      if (first < 0) {
        ended = true;
        break;
      }
      const event = buffers[first]![at[first]!]!;
      at[first]!++;
      if (knownAt !== undefined && Date.parse(event.recordedAt) > knownAt) {
        ended = true;
        break;
      }
      if (until === undefined || startInstant(event.occurredAt) <= until) run.push(event);
      if (at[first] === buffers[first]!.length && !done[first]) break;
    }
    if (run.length > 0) yield run;
    if (ended) return;
  }
}

export interface ChainHead {
  readonly stream: string;
  readonly revision: number;
  readonly hash: string;
}

export interface ChainBreak {
  readonly eventId: string;
  readonly position: string;
  readonly expected: string;
  readonly actual: string;
  readonly reason: string;
}

export interface PtceChains {
  readonly ok: boolean;
  /** Events whose hash was recomputed. */
  readonly events: number;
  /** Each stream's last event as stored (the last one that held, when a chain broke). */
  readonly heads: ChainHead[];
  /** The first event, in log order, whose chain does not hold. */
  readonly brokenAt?: ChainBreak;
  /** The latest signed checkpoint the chains were held against; null when none was taken yet. */
  readonly checkpoint: {
    readonly takenAt: string;
    readonly keyId: string;
    readonly heads: ChainHead[];
  } | null;
  /** How many signed checkpoints the chains were held against. */
  readonly checkpoints: number;
  /** The first disagreement between the stored chains and a signed checkpoint. */
  readonly checkpointMismatch?: CheckpointMismatch;
}

export interface CheckpointMismatch {
  /** The checkpoint's. */
  readonly takenAt: string;
  readonly keyId: string;
  /**
   * `rewritten`: the event the checkpoint names holds another hash; `missing`: the stream stops
   * before it (its last events deleted); `signature`: the checkpoint itself does not verify.
   */
  readonly reason: 'rewritten' | 'missing' | 'signature';
  readonly stream?: string;
  readonly revision?: number;
  /** The hash the checkpoint signed. */
  readonly expected?: string;
  /** The hash stored, or `missing`. */
  readonly actual?: string;
  readonly detail: string;
}

/** What the chains are held against: the PTCE's signed checkpoints and the keys that may sign them. */
export interface CheckpointEvidence {
  readonly checkpoints: readonly (SignedCheckpoint | { readonly unreadable: StoredCheckpoint })[];
  readonly publicKeys: readonly SnapshotPublicKey[];
}

interface Attested {
  readonly hash: string;
  readonly checkpoint: SignedCheckpoint;
}

/**
 * Each of the PTCE's hash chains recomputed from the events as stored, a chunk at a time, and
 * held against every signed checkpoint taken of them: the same check for the API and the command
 * line, in the same memory whatever the history's length. The chains alone show an event altered,
 * removed from the middle or moved; only a checkpoint shows the last events gone, or a stream
 * rewritten whole with its hashes recomputed.
 */
export async function verifyPtceChains(
  store: EventStore,
  ptceId: string,
  evidence: CheckpointEvidence = { checkpoints: [], publicKeys: [] },
): Promise<PtceChains> {
  let mismatch: { at: string; found: CheckpointMismatch } | undefined;
  const attested = new Map<string, Map<number, Attested>>();
  const trusted: SignedCheckpoint[] = [];
  for (const entry of evidence.checkpoints) {
    if ('unreadable' in entry) {
      mismatch ??= {
        at: '',
        found: {
          takenAt: entry.unreadable.takenAt,
          keyId: entry.unreadable.keyId,
          reason: 'signature',
          detail: 'its stored bytes are not a checkpoint',
        },
      };
      continue;
    }
    const problem = checkpointSignatureProblem(entry, evidence.publicKeys);
    if (problem !== null) {
      mismatch ??= {
        at: '',
        found: {
          takenAt: entry.checkpoint.takenAt,
          keyId: entry.signature.keyId,
          reason: 'signature',
          detail: problem,
        },
      };
      continue;
    }
    trusted.push(entry);
    for (const head of entry.checkpoint.heads) {
      let revisions = attested.get(head.stream);
      if (!revisions) {
        revisions = new Map();
        attested.set(head.stream, revisions);
      }
      revisions.set(head.revision, { hash: head.hash, checkpoint: entry });
    }
  }
  /** Keeps the disagreement that comes first in log order ('' sorts before every position). */
  const disagree = (at: string, found: CheckpointMismatch) => {
    if (!mismatch || at < mismatch.at) mismatch = { at, found };
  };
  const against = (checkpoint: SignedCheckpoint) => ({
    takenAt: checkpoint.checkpoint.takenAt,
    keyId: checkpoint.signature.keyId,
  });

  let events = 0;
  const heads: ChainHead[] = [];
  let brokenAt: ChainBreak | undefined;
  for (const stream of ptceStreams(ptceId)) {
    const expected = attested.get(stream);
    let previous: EventEnvelope | undefined;
    let broken: ChainBreak | undefined;
    for (let from = 0; ; ) {
      const chunk = await store.readStream(stream, { fromRevision: from, limit: CHUNK });
      if (chunk.length === 0) break;
      from = chunk.at(-1)!.revision + 1;
      const first = chunk[0]!;
      if (previous === undefined && first.revision !== 0) {
        // A stream whose first rows were deleted starts at a later revision: the chain checker
        // would trust that row's prevHash, so its start is checked here.
        broken = {
          eventId: first.eventId,
          position: first.position,
          expected: '0',
          actual: String(first.revision),
          reason: 'revision',
        };
      } else {
        const result = verifyChain(previous ? [previous, ...chunk] : chunk);
        if (!result.ok) broken = result.brokenAt;
      }
      events += chunk.length;
      if (expected) {
        for (const event of chunk) {
          const attestation = expected.get(event.revision);
          if (attestation && attestation.hash !== event.hash) {
            disagree(event.position, {
              ...against(attestation.checkpoint),
              reason: 'rewritten',
              stream,
              revision: event.revision,
              expected: attestation.hash,
              actual: event.hash,
              detail: `event ${event.eventId} is not the one the checkpoint signed`,
            });
            break;
          }
        }
      }
      if (broken) {
        if (!brokenAt || broken.position < brokenAt.position) brokenAt = broken;
        break;
      }
      previous = chunk.at(-1);
      if (chunk.length < CHUNK) break;
    }
    if (previous) heads.push({ stream, revision: previous.revision, hash: previous.hash });
    if (expected && !broken) {
      const last = previous?.revision ?? -1;
      const gone = [...expected.entries()]
        .filter(([revision]) => revision > last)
        .sort(([a], [b]) => a - b)[0];
      if (gone) {
        const [revision, attestation] = gone;
        // After every event of the log: what is missing was last.
        disagree('\uffff', {
          ...against(attestation.checkpoint),
          reason: 'missing',
          stream,
          revision,
          expected: attestation.hash,
          actual: 'missing',
          detail: `the stream ends at revision ${last}, the checkpoint signed revision ${revision}`,
        });
      }
    }
  }
  const latest = trusted.at(-1);
  const checkpoint = latest
    ? { takenAt: latest.checkpoint.takenAt, keyId: latest.signature.keyId, heads: latest.checkpoint.heads }
    : null;
  const found = mismatch?.found;
  return {
    ok: !brokenAt && !found,
    events,
    heads,
    ...(brokenAt ? { brokenAt } : {}),
    checkpoint,
    checkpoints: trusted.length,
    ...(found ? { checkpointMismatch: found } : {}),
  };
}
