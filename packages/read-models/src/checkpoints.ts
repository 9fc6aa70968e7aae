import { createHash, sign, verify } from 'node:crypto';
import type { CheckpointStore, EventStore, StoredCheckpoint } from '@ptce/event-store';
import { canonicalJson, ptceStreams } from '@ptce/events';
import { type HostContext, SnapshotKeys, type SnapshotPublicKey } from '@ptce/platform';
import type { ChainHead, CheckpointEvidence } from './audit-log.ts';
import { registeredPtceIds } from './rebuild.ts';

/**
 * Signed in every checkpoint, so that no other signature of the same key (a snapshot's) can
 * ever be passed off as a checkpoint, nor one as the other.
 */
export const CHECKPOINT_KIND = 'ptce-chain-checkpoint/v1';

/** Where each of a PTCE's hash chains stood when it was taken: what makes a later rewrite visible. */
export interface Checkpoint {
  readonly kind: typeof CHECKPOINT_KIND;
  readonly ptceId: string;
  /** ISO 8601 instant it was taken. */
  readonly takenAt: string;
  /** Each stream's last event then, in the order of the PTCE's streams. */
  readonly heads: ChainHead[];
}

export interface SignedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** Ed25519 over the RFC 8785 canonical JSON of `checkpoint`, with a snapshot signing key. */
  readonly signature: { readonly alg: 'Ed25519'; readonly keyId: string; readonly value: string };
}

/** Events read backwards at a time when looking for a stream's head. */
const HEAD_PAGE = 64;

/** The stream's last event at or before `position`; null when it has none. */
async function headOf(store: EventStore, stream: string, position: string): Promise<ChainHead | null> {
  let from: number | undefined;
  for (;;) {
    const page = await store.readStream(stream, {
      direction: 'backwards',
      limit: HEAD_PAGE,
      ...(from === undefined ? {} : { fromRevision: from }),
    });
    const found = page.find((event) => event.position <= position);
    if (found) return { stream, revision: found.revision, hash: found.hash };
    const oldest = page.at(-1);
    if (!oldest || oldest.revision === 0 || page.length < HEAD_PAGE) return null;
    from = oldest.revision - 1;
  }
}

/** Where each of the PTCE's streams stood at `position`, in the order of `ptceStreams`. */
export async function headsAt(store: EventStore, ptceId: string, position: string): Promise<ChainHead[]> {
  const heads = await Promise.all(ptceStreams(ptceId).map((stream) => headOf(store, stream, position)));
  return heads.filter((head) => head !== null);
}

/** Two checkpoints of the same heads say the same thing: the store keeps the first. */
const digestOf = (ptceId: string, heads: readonly ChainHead[]) =>
  createHash('sha256').update(canonicalJson({ ptceId, heads }), 'utf8').digest('hex');

/** A stored checkpoint as it was signed, or null when its bytes are not a checkpoint at all. */
function parseStored(stored: StoredCheckpoint): SignedCheckpoint | null {
  let checkpoint: Checkpoint;
  try {
    checkpoint = JSON.parse(stored.body) as Checkpoint;
  } catch {
    return null;
  }
  if (checkpoint?.kind !== CHECKPOINT_KIND || !Array.isArray(checkpoint.heads)) return null;
  return { checkpoint, signature: { alg: 'Ed25519', keyId: stored.keyId, value: stored.signature } };
}

/** Why a checkpoint cannot be trusted, or null when it verifies with one of the published keys. */
export function checkpointSignatureProblem(
  signed: SignedCheckpoint,
  publicKeys: readonly SnapshotPublicKey[],
): string | null {
  const key = publicKeys.find((candidate) => candidate.keyId === signed.signature.keyId);
  if (!key) return `signed by ${signed.signature.keyId}, a key that was never published`;
  const ok = verify(
    null,
    Buffer.from(canonicalJson(signed.checkpoint), 'utf8'),
    key.publicKey,
    Buffer.from(signed.signature.value, 'base64url'),
  );
  return ok ? null : `its signature does not verify with key ${key.keyId}`;
}

export interface ChainCheckpointsOptions {
  readonly events: EventStore;
  readonly store: CheckpointStore;
  readonly keys: SnapshotKeys;
  /** Milliseconds since the epoch: when a checkpoint is taken. */
  readonly now: () => number;
}

/** Digests recorded by this process, remembered so that a PTCE read again and again is one write. */
const REMEMBERED = 10_000;

/**
 * The PTCE's signed checkpoints: taken with every snapshot and at least daily, signed by the
 * snapshot key, so that what the chains alone cannot show — their last events deleted, or a whole
 * stream rewritten with its hashes recomputed — shows against a checkpoint taken before.
 */
export class ChainCheckpoints {
  private readonly recorded = new Set<string>();
  /** The snapshot signing keys, which sign the checkpoints too. */
  readonly keys: SnapshotKeys;

  constructor(private readonly options: ChainCheckpointsOptions) {
    this.keys = options.keys;
  }

  /**
   * A checkpoint of these heads, signed and kept unless one of the same heads is kept already.
   * True when this call recorded it.
   */
  async attest(ptceId: string, heads: readonly ChainHead[]): Promise<boolean> {
    if (heads.length === 0) return false;
    const digest = digestOf(ptceId, heads);
    const memo = `${ptceId}/${digest}`;
    if (this.recorded.has(memo)) return false;
    const checkpoint: Checkpoint = {
      kind: CHECKPOINT_KIND,
      ptceId,
      takenAt: new Date(this.options.now()).toISOString(),
      heads: heads.map(({ stream, revision, hash }) => ({ stream, revision, hash })),
    };
    const body = canonicalJson(checkpoint);
    const key = this.keys.current();
    const signature = sign(null, Buffer.from(body, 'utf8'), key.privateKey).toString('base64url');
    const fresh = await this.options.store.record({
      ptceId,
      digest,
      takenAt: checkpoint.takenAt,
      body,
      keyId: key.keyId,
      signature,
    });
    if (this.recorded.size >= REMEMBERED) this.recorded.clear();
    this.recorded.add(memo);
    return fresh;
  }

  /** A checkpoint of the PTCE's chains as they stand now; false when they have not moved since the last. */
  async take(ptceId: string): Promise<boolean> {
    const head = await this.options.events.headPosition();
    if (head === null) return false;
    return this.attest(ptceId, await headsAt(this.options.events, ptceId, head));
  }

  /** A checkpoint of every registered PTCE whose chains moved since its last one: the daily round. */
  async takeAll(): Promise<{ ptces: number; taken: number }> {
    const ids = await registeredPtceIds(this.options.events);
    let taken = 0;
    for (const ptceId of ids) if (await this.take(ptceId)) taken++;
    return { ptces: ids.length, taken };
  }

  /**
   * Every checkpoint of the PTCE, oldest first, as signed. A row whose bytes are not a checkpoint
   * is kept in the list as unreadable rather than dropped: `verify` must see it.
   */
  async list(ptceId: string): Promise<(SignedCheckpoint | { readonly unreadable: StoredCheckpoint })[]> {
    const stored = await this.options.store.list(ptceId);
    return stored.map((row) => parseStored(row) ?? { unreadable: row });
  }

  /**
   * Rounds of `takeAll` every `everyMs`, the first after `firstAfterMs`: a process restarted more
   * often than the period still takes its round, one started for a moment (a command, a test)
   * takes none. One round at a time; the function returned stops them and waits for the one
   * running.
   */
  schedule(options: {
    readonly everyMs: number;
    readonly firstAfterMs: number;
    readonly log: {
      info(fields: object, message: string): void;
      warn(fields: object, message: string): void;
    };
  }): () => Promise<void> {
    let running: Promise<void> | undefined;
    const round = () => {
      running ??= this.takeAll()
        .then(
          ({ ptces, taken }) => options.log.info({ ptces, taken }, 'signed checkpoints taken'),
          (err: unknown) =>
            options.log.warn({ err }, 'the round of signed checkpoints failed; the next one in its time'),
        )
        .finally(() => {
          running = undefined;
        });
    };
    const first = setTimeout(round, Math.min(options.firstAfterMs, options.everyMs));
    const timer = setInterval(round, options.everyMs);
    first.unref();
    timer.unref();
    return async () => {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    };
  }

  /** What a verifier needs besides the checkpoints: every key that may have signed one. */
  async evidence(ptceId: string): Promise<CheckpointEvidence> {
    return { checkpoints: await this.list(ptceId), publicKeys: this.keys.publicKeys() };
  }
}

/** One per process: the audit and snapshots services mounted together take checkpoints as one. */
export function sharedChainCheckpoints(
  host: Pick<HostContext, 'shared' | 'eventStore' | 'checkpoints' | 'config' | 'clock'>,
): ChainCheckpoints {
  return host.shared('@ptce/read-models:checkpoints', () => {
    const keys = new SnapshotKeys(host.config.DATA_DIR);
    // Made at start-up, so the first request does not race another process for the first key.
    keys.ensure();
    return new ChainCheckpoints({ events: host.eventStore, store: host.checkpoints, keys, now: host.clock });
  });
}
