import type { EventStore, Subscription } from '@ptce/event-store';
import { type EventEnvelope, parisDate } from '@ptce/events';
import type { StageRules } from '@ptce/projections';
import type { ProjectorLock } from './lock.ts';
import type { PtceLedgers } from './ptce-ledgers.ts';
import { modelOf, type PtceReadModel, type ReadModelStore } from './read-models.ts';
import { rebuildReadModels } from './rebuild.ts';

/** The few pino methods the projector logs with. */
export interface ProjectorLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface ProjectorOptions {
  readonly store: EventStore;
  readonly models: ReadModelStore;
  /** The folded logs the projector extends with what it receives (the read service's own). */
  readonly ledgers: PtceLedgers;
  readonly rules: StageRules;
  /** Milliseconds since the epoch: the day current answers are as of. */
  readonly clock: () => number;
  /** Shared models need one writer: without a lock the projector is always active. */
  readonly lock?: ProjectorLock;
  readonly log?: ProjectorLogger;
  /** Events folded before the models they touch are computed and committed. Default 2,000. */
  readonly batchSize?: number;
  /**
   * How often a standby projector tries the lock, an active one renews it and checks the day,
   * and a failed one starts again. Keep it well under the lock's lease. Default 2 s.
   */
  readonly tickMs?: number;
  /**
   * After a batch that took d ms, the projector rests `restFactor × d` (at most 2 s) before the
   * next: under sustained writes to a long history it then takes at most 1 / (1 + restFactor) of
   * a core from the process it shares with the write services. Default 3.
   */
  readonly restFactor?: number;
  /**
   * How long events are gathered before a batch is computed (unless `batchSize` is reached
   * first): writes to one PTCE in that time cost one recomputation of its model. Default 100 ms.
   */
  readonly gatherMs?: number;
}

export type ProjectorStatus = 'stopped' | 'standby' | 'active';

const silent: ProjectorLogger = { debug() {}, info() {}, warn() {}, error() {} };
const MAX_REST_MS = 2_000;

/**
 * Keeps each PTCE's current answers as read models: a subscription to the log from the models'
 * checkpoint, batches of events folded into the PTCE they belong to, and each PTCE touched
 * recomputed from its whole folded log (a backdated or corrected event changes the past: its
 * PTCE is answered again from its events, never patched), the models and the new checkpoint
 * committed together. With no checkpoint yet it first rebuilds every model, one PTCE at a time.
 * The day moving on recomputes every model (current answers are as of today).
 *
 * Several processes may run one: the lock makes one active, the others stand by and take over
 * when it stops renewing. Everything runs one step at a time on one queue (batches, renewals,
 * the day's refresh), so a renewal never lands inside a fenced commit.
 */
export class Projector {
  private state: ProjectorStatus = 'stopped';
  private subscription: Subscription | null = null;
  private pending: EventEnvelope[] = [];
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private flushSoon = false;
  private committed: string | null = null;
  private day: string | null = null;
  private waiters: { position: string; resolve: () => void }[] = [];
  private readonly log: ProjectorLogger;
  private readonly batchSize: number;
  private readonly tickMs: number;
  private readonly restFactor: number;
  private readonly gatherMs: number;

  constructor(private readonly options: ProjectorOptions) {
    this.log = options.log ?? silent;
    this.batchSize = options.batchSize ?? 2_000;
    this.tickMs = options.tickMs ?? 2_000;
    this.restFactor = options.restFactor ?? 3;
    this.gatherMs = options.gatherMs ?? 100;
  }

  get status(): ProjectorStatus {
    return this.state;
  }

  /** The last log position whose effect the models hold, as this projector committed it. */
  get checkpoint(): string | null {
    return this.committed;
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.state = 'standby';
    this.tick();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const wasActive = this.state === 'active';
    this.state = 'stopped';
    await this.enqueue(async () => {
      await this.unsubscribe();
      if (wasActive) await this.options.lock?.release().catch(() => undefined);
    });
  }

  /** Resolves once this projector has committed `position` or beyond. */
  reached(position: string): Promise<void> {
    if (this.committed !== null && this.committed >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private tick = (): void => {
    this.timer = null;
    void this.enqueue(() => this.step())
      .catch((err) => this.log.error({ err }, 'projector step failed'))
      .finally(() => {
        if (this.state !== 'stopped') this.timer = setTimeout(this.tick, this.tickMs);
      });
  };

  private async step(): Promise<void> {
    const { lock } = this.options;
    if (this.state === 'standby') {
      if (lock && !(await lock.acquire())) return;
      if (this.state !== 'standby') return;
      await this.activate();
      return;
    }
    if (this.state !== 'active') return;
    if (lock && !(await lock.renew())) {
      await this.standBy('the lock was taken over');
      return;
    }
    const today = parisDate(this.options.clock());
    if (today !== this.day) await this.refreshAll(today);
  }

  private async activate(): Promise<void> {
    const { store, models, rules, lock, clock } = this.options;
    let checkpoint = await models.checkpoint();
    if (checkpoint === null) {
      const started = Date.now();
      // The queue renews the lease between steps; a rebuild is one long step, so it is renewed
      // meanwhile (the lock takes its operations one at a time: a renewal never voids a write).
      const renewal = lock
        ? setInterval(() => void lock.renew().catch(() => undefined), this.tickMs)
        : undefined;
      let summary: Awaited<ReturnType<typeof rebuildReadModels>>;
      try {
        summary = await rebuildReadModels({ store, models, rules, clock, ...(lock ? { lock } : {}) });
      } finally {
        clearInterval(renewal);
      }
      checkpoint = summary.position;
      const level = summary.ptces > 0 ? 'info' : 'debug';
      this.log[level](
        { ...summary, ms: Date.now() - started },
        'projector: read models rebuilt from the log',
      );
    }
    this.committed = checkpoint;
    this.resolveWaiters();
    this.state = 'active';
    this.log.debug({ checkpoint, holder: lock?.holder }, 'projector active');
    const subscription = store.subscribe(
      (event) => this.receive(event),
      checkpoint === null ? {} : { after: checkpoint },
    );
    this.subscription = subscription;
    subscription.done.catch((err) => {
      if (this.subscription !== subscription) return;
      this.log.error({ err }, 'projector: the subscription failed; standing by to start again');
      void this.enqueue(() => this.standBy('the subscription failed'));
    });
    // Models left by an earlier day (or an earlier projector) are recomputed for today.
    const today = parisDate(clock());
    this.day = today;
    if (await this.modelsOfAnotherDay(today)) await this.refreshAll(today);
  }

  private async modelsOfAnotherDay(today: string): Promise<boolean> {
    return (await this.options.models.list()).some((entry) => entry.day !== today);
  }

  private async standBy(reason: string): Promise<void> {
    if (this.state !== 'active') return;
    this.state = 'standby';
    this.log.warn({ reason }, 'projector standing by');
    await this.unsubscribe();
  }

  private async unsubscribe(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    this.pending = [];
    await subscription?.stop().catch(() => undefined);
  }

  private receive(event: EventEnvelope): Promise<void> | undefined {
    this.pending.push(event);
    if (this.pending.length >= this.batchSize) return this.enqueue(() => this.flush());
    if (!this.flushSoon) {
      this.flushSoon = true;
      setTimeout(() => {
        this.flushSoon = false;
        void this.enqueue(() => this.flush()).catch((err) => this.failed(err));
      }, this.gatherMs).unref();
    }
    return undefined;
  }

  private failed(err: unknown): void {
    this.log.error({ err }, 'projector: a batch failed; standing by to start again from the checkpoint');
    void this.enqueue(() => this.standBy('a batch failed'));
  }

  private async flush(): Promise<void> {
    if (this.state !== 'active' || this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    const started = Date.now();
    const { ledgers } = this.options;
    for (const event of events) ledgers.receive(event);
    const today = parisDate(this.options.clock());
    const touched = [...new Set(events.map((event) => event.ptceId))];
    const models: PtceReadModel[] = [];
    const gone: string[] = [];
    for (const ptceId of touched) {
      const model = await this.compute(ptceId, today);
      if (model) models.push(model);
      else gone.push(ptceId);
    }
    const checkpoint = events.at(-1)!.position;
    if (!(await this.options.models.commit(models, checkpoint, this.options.lock, gone))) {
      await this.standBy('the lock was taken over');
      return;
    }
    this.committed = checkpoint;
    this.resolveWaiters();
    const took = Date.now() - started;
    if (this.restFactor > 0 && took > 1) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(took * this.restFactor, MAX_REST_MS)));
    }
  }

  private async compute(ptceId: string, day: string): Promise<PtceReadModel | null> {
    const log = await this.options.ledgers.latest(ptceId);
    return modelOf(ptceId, log.ledger, day, this.options.rules);
  }

  private async refreshAll(today: string): Promise<void> {
    const { models, lock } = this.options;
    const entries = await models.list();
    const fresh: PtceReadModel[] = [];
    const gone: string[] = [];
    for (const { ptceId } of entries) {
      const model = await this.compute(ptceId, today);
      if (model) fresh.push(model);
      else gone.push(ptceId);
    }
    if (!(await models.commit(fresh, undefined, lock, gone))) {
      await this.standBy('the lock was taken over');
      return;
    }
    this.day = today;
  }

  private resolveWaiters(): void {
    const committed = this.committed;
    if (committed === null) return;
    const waiting = this.waiters;
    this.waiters = waiting.filter((w) => w.position > committed);
    for (const w of waiting) if (w.position <= committed) w.resolve();
  }
}
