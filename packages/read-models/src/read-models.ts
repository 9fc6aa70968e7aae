import type { Ledger } from '@ptce/domain';
import { DEFAULT_WINDOW_MONTHS, type StageRules } from '@ptce/projections';
import type { Redis } from 'ioredis';
import {
  type EligibilityBody,
  eligibilityBody,
  type LegalTransitionBody,
  type ListEntry,
  legalTransitionBody,
  type ParticipationBody,
  participationBody,
  type SealedStateBody,
  type StageBody,
  stageAndTimelineBodies,
  stateBody,
  type TimelineBody,
} from './answers.ts';
import type { FencedTransaction, ProjectorLock } from './lock.ts';

/**
 * What a current read of one PTCE answers, computed once by the projector for every reader: the
 * answers as of a Paris day, on the PTCE's log up to `position`. A current read moves with the
 * calendar (a stage stalls, the attendance window slides), so a model answers only on its `day`.
 */
export interface PtceReadModel {
  readonly ptceId: string;
  /** The last position of the PTCE's log the answers were computed on. */
  readonly position: string;
  /** When that last event was recorded: what the log held then is what the answers hold. */
  readonly knownAt: string;
  /** The Paris day the answers are as of (their `asOf`). */
  readonly day: string;
  readonly stage: StageBody;
  readonly timeline: TimelineBody;
  readonly state: SealedStateBody;
  readonly legalTransition: LegalTransitionBody;
  readonly eligibility: EligibilityBody;
  /** Over the default window. */
  readonly participation: ParticipationBody;
}

/** A PTCE in the list of models, with the day its stage is as of. */
export interface ModelledPtce extends ListEntry {
  readonly day: string;
}

export const listEntryOf = (model: PtceReadModel): ModelledPtce => ({
  ptceId: model.ptceId,
  name: model.state.name,
  stage: model.stage.stage,
  day: model.day,
});

/** A model with how far the projector had read the log when it was fetched. */
export interface ModelRead {
  readonly model: PtceReadModel | null;
  /** The last log position the projector has processed; null before its first batch. */
  readonly checkpoint: string | null;
}

/**
 * Where the projector keeps the models, and the checkpoint that goes with them: the position of
 * the last event of the log whose effect the models hold. Both move together, in one atomic step,
 * so a restarted projector never skips an event nor trusts a model it did not finish.
 */
export interface ReadModelStore {
  readonly kind: 'memory' | 'redis';
  read(ptceId: string): Promise<ModelRead>;
  /** Every PTCE a model is kept for, by id. */
  list(): Promise<ModelledPtce[]>;
  checkpoint(): Promise<string | null>;
  /**
   * Writes the models, removes those of `gone` (a PTCE whose log no longer holds a registration,
   * retracted by a tool writing to the store directly) and, unless it is undefined, moves the
   * checkpoint: all of it or nothing. With a lock, only while the lock is ours: false, and
   * nothing written, once it is not.
   */
  commit(
    models: readonly PtceReadModel[],
    checkpoint: string | undefined,
    lock?: ProjectorLock,
    gone?: readonly string[],
  ): Promise<boolean>;
  /** Removes every model and the checkpoint. */
  clear(): Promise<void>;
}

/** In the process's memory: what a deployment without Redis keeps, each process its own. */
export class MemoryReadModels implements ReadModelStore {
  readonly kind = 'memory';
  private readonly models = new Map<string, PtceReadModel>();
  private position: string | null = null;

  async read(ptceId: string): Promise<ModelRead> {
    return { model: this.models.get(ptceId) ?? null, checkpoint: this.position };
  }

  async list(): Promise<ModelledPtce[]> {
    return [...this.models.values()].map(listEntryOf).sort(byId);
  }

  async checkpoint(): Promise<string | null> {
    return this.position;
  }

  async commit(
    models: readonly PtceReadModel[],
    checkpoint: string | undefined,
    _lock?: ProjectorLock,
    gone: readonly string[] = [],
  ): Promise<boolean> {
    for (const model of models) this.models.set(model.ptceId, model);
    for (const ptceId of gone) this.models.delete(ptceId);
    if (checkpoint !== undefined) this.position = checkpoint;
    return true;
  }

  async clear(): Promise<void> {
    this.models.clear();
    this.position = null;
  }
}

const byId = (a: ListEntry, b: ListEntry) => (a.ptceId < b.ptceId ? -1 : a.ptceId > b.ptceId ? 1 : 0);

/**
 * In Redis, shared by every read process: one key per model (JSON), a hash of the list entries,
 * and the checkpoint, under a prefix naming the stage rules, so that two deployments (or one
 * before and after a change of thresholds) never read each other's answers. Redis holds nothing
 * that cannot be rebuilt from the log.
 */
export class RedisReadModels implements ReadModelStore {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  async read(ptceId: string): Promise<ModelRead> {
    const [model, checkpoint] = await this.redis.mget(this.key(`model:${ptceId}`), this.key('checkpoint'));
    return { model: model ? (JSON.parse(model) as PtceReadModel) : null, checkpoint: checkpoint ?? null };
  }

  async list(): Promise<ModelledPtce[]> {
    const entries = await this.redis.hvals(this.key('list'));
    return entries.map((entry) => JSON.parse(entry) as ModelledPtce).sort(byId);
  }

  async checkpoint(): Promise<string | null> {
    return this.redis.get(this.key('checkpoint'));
  }

  async commit(
    models: readonly PtceReadModel[],
    checkpoint: string | undefined,
    lock?: ProjectorLock,
    gone: readonly string[] = [],
  ): Promise<boolean> {
    const write = (multi: FencedTransaction) => {
      for (const model of models) {
        multi.set(this.key(`model:${model.ptceId}`), JSON.stringify(model));
        multi.hset(this.key('list'), model.ptceId, JSON.stringify(listEntryOf(model)));
      }
      for (const ptceId of gone) {
        multi.del(this.key(`model:${ptceId}`));
        multi.hdel(this.key('list'), ptceId);
      }
      if (checkpoint !== undefined) multi.set(this.key('checkpoint'), checkpoint);
    };
    if (lock) return lock.fenced(write);
    const multi = this.redis.multi();
    write(multi);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed)
      throw failed?.[0] ?? new Error('read models: the transaction was discarded');
    return true;
  }

  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.prefix)}*`,
        'COUNT',
        500,
      );
      if (keys.length > 0) await this.redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * The model of a PTCE's log as of the end of Paris day `day`, or null when the log holds no
 * registration (there is nothing to answer for yet).
 */
export function modelOf(
  ptceId: string,
  ledger: Ledger,
  day: string,
  rules: StageRules,
): PtceReadModel | null {
  const last = ledger.last?.event;
  if (!last) return null;
  // First: the stage timeline replays every fact, and leaves the final state the other answers read.
  const { stage, timeline } = stageAndTimelineBodies(ledger, day, rules);
  const state = stateBody(ptceId, ledger, day);
  if (!state) return null;
  return {
    ptceId,
    position: last.position,
    knownAt: last.recordedAt,
    day,
    stage,
    timeline,
    state,
    legalTransition: legalTransitionBody(ledger, day),
    eligibility: eligibilityBody(ledger, day),
    participation: participationBody(ledger, day, DEFAULT_WINDOW_MONTHS),
  };
}
