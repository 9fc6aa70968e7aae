import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { foldLedger } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import type { StageRules } from '@ptce/projections';
import { cutLog, readPtceLog } from './ptce-log.ts';
import { modelOf, type PtceReadModel } from './read-models.ts';

/** One PTCE of a rebuild, folded: its model (null once its registration was retracted). */
export interface FoldedPtce {
  readonly ptceId: string;
  readonly events: number;
  readonly model: PtceReadModel | null;
}

/** What every PTCE of one rebuild is folded with: the log's head it is cut at, the day, the rules. */
export interface FoldSpec {
  readonly head: string;
  readonly day: string;
  readonly rules: StageRules;
}

/** Reads the PTCE's log up to `spec.head`, folds it from nothing and answers its model. */
export async function foldPtce(store: EventStore, ptceId: string, spec: FoldSpec): Promise<FoldedPtce> {
  const log = cutLog(await readPtceLog(store, ptceId), { kind: 'atPosition', position: spec.head });
  return { ptceId, events: log.length, model: modelOf(ptceId, foldLedger(log), spec.day, spec.rules) };
}

/** What a rebuild thread is started with. */
export interface RebuildThreadData extends FoldSpec {
  readonly storeUrl: string;
}

/** A thread's answer to a PTCE it was handed. */
export type RebuildThreadAnswer = FoldedPtce | { readonly ptceId: string; readonly error: string };

/**
 * The URL of tsx's ESM API, whose `register()` installs its loader in the thread that calls it.
 * Found through the package's exports by hand: a require resolution gives its CommonJS build,
 * whose `register()` fails in a worker, and `import.meta.resolve` is missing under vitest.
 */
function tsxEsmApi(): string {
  const manifestPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports: Record<string, { import?: { default?: string } } | string>;
  };
  const api = manifest.exports['./esm/api'];
  const file = typeof api === 'object' ? api.import?.default : undefined;
  if (!file) throw new Error('tsx exports no ESM API: a rebuild cannot start threads on TypeScript sources');
  return pathToFileURL(path.join(path.dirname(manifestPath), file)).href;
}

/**
 * A thread running `rebuild-worker`. The sources are TypeScript run through tsx, whose loader
 * `--import tsx` registers for the main thread only: a worker registers it itself before it
 * imports the entry (a build to JavaScript would start the entry directly).
 */
function startThread(data: RebuildThreadData): Worker {
  const entry = new URL(
    import.meta.url.endsWith('.ts') ? './rebuild-worker.ts' : './rebuild-worker.js',
    import.meta.url,
  );
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData: data });
  const boot = `import(${JSON.stringify(tsxEsmApi())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** A thread of a pool: whether it has opened the store, and how many PTCE it holds unanswered. */
interface Helper {
  readonly worker: Worker;
  readonly exited: Promise<void>;
  ready: boolean;
  inFlight: number;
}

/** A thread's message: ready once its store is open, then one answer per PTCE handed. */
type ThreadMessage = RebuildThreadAnswer | { readonly ready: true };

/** PTCE handed to a thread ahead of its answers, so it never waits for this thread to hand more. */
const HANDED_AHEAD = 2;
/** How long a thread told to stop may take to close its store before it is ended. */
const STOP_GRACE_MS = 5_000;

/**
 * Threads that fold PTCE beside this one, each reading the store again at `storeUrl`: one PTCE's
 * fold needs no other's, and a rebuild of a long log is otherwise one core's work. They are
 * started before the PTCE to fold are known, so that their start-up (loading the sources and
 * opening the store, about a second each) overlaps the scan of the log for registrations; this
 * thread folds too, from the start.
 */
export class FoldThreads {
  private readonly helpers: Helper[];
  private readonly failure: Promise<never>;
  private reject!: (error: Error) => void;
  /** Set on the first failure, and by `stop`: nothing more is handed or taken. */
  private failed = false;
  private stopping = false;
  private queue: string[] = [];
  private taken: Promise<void> = Promise.resolve();
  private each: (folded: FoldedPtce) => Promise<void> = async () => undefined;
  private readonly waiting = new Set<() => void>();

  private constructor(count: number, data: RebuildThreadData) {
    this.failure = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    // Nobody may be listening yet when a thread fails: `foldAll` throws it.
    this.failure.catch(() => undefined);
    this.helpers = Array.from({ length: count }, () => {
      const worker = startThread(data);
      const exited = new Promise<void>((resolve) =>
        worker.once('exit', (code) => {
          if (!this.stopping) this.fail(new Error(`a rebuild thread stopped (exit code ${code})`));
          resolve();
        }),
      );
      const helper: Helper = { worker, exited, ready: false, inFlight: 0 };
      // Listened to from the start: a message with no listener is lost.
      worker.on('message', (message: ThreadMessage) => this.onMessage(helper, message));
      worker.once('error', (error) => this.fail(error));
      return helper;
    });
  }

  /** `count` threads, starting now. */
  static start(count: number, data: RebuildThreadData): FoldThreads {
    return new FoldThreads(count, data);
  }

  /**
   * Folds every PTCE of `ptceIds` once, here (`foldHere`; null: in the threads only) and in the
   * threads. `each` is called with every folded PTCE in turn (never two at once), in the order
   * they are done; a thread holds a few PTCE ahead at most, so few models wait in memory. The
   * first failure, here or in a thread, is thrown once the fold under way here has ended, and no
   * PTCE is taken after it. Once.
   */
  async foldAll(
    ptceIds: readonly string[],
    foldHere: ((ptceId: string) => Promise<FoldedPtce>) | null,
    each: (folded: FoldedPtce) => Promise<void>,
  ): Promise<void> {
    if (!foldHere && this.helpers.length === 0) throw new Error('foldAll: no thread to fold in');
    this.queue = [...ptceIds];
    this.each = each;
    for (const helper of this.helpers) this.handTo(helper);
    const here = (async () => {
      while (foldHere && this.queue.length > 0 && !this.failed) {
        await this.take(await foldHere(this.queue.shift()!));
        // A fold here holds the event loop: the threads' answers, and their next PTCE, wait for it.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // What is left is the threads': handed as they are ready, answered as they fold.
      while (!this.failed && (this.queue.length > 0 || this.helpers.some((h) => h.inFlight > 0))) {
        await new Promise<void>((resolve) => this.waiting.add(resolve));
      }
      await this.taken;
    })();
    // A failure here stops the threads' work as one of theirs does.
    here.catch((error: unknown) => this.fail(error));
    try {
      await Promise.race([here, this.failure]);
    } finally {
      // Nothing done here outlives the call: a fold under way ends first (its answer not taken).
      await here.catch(() => undefined);
    }
    if (this.failed) await this.failure;
  }

  /**
   * Ends every thread: one still starting at once (it holds nothing yet), the others once they
   * have closed their store, or after a grace period. A `foldAll` under way throws.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.fail(new Error('the rebuild threads were stopped'));
    await Promise.all(
      this.helpers.map(async ({ worker, exited, ready }) => {
        const timer = setTimeout(() => void worker.terminate(), ready ? STOP_GRACE_MS : 0);
        if (ready) worker.postMessage(null);
        await exited;
        clearTimeout(timer);
      }),
    );
    // No model is taken after the rebuild has failed: its caller is letting the lock go.
    await this.taken.catch(() => undefined);
  }

  private onMessage(helper: Helper, message: ThreadMessage): void {
    if ('ready' in message) {
      helper.ready = true;
      this.handTo(helper);
      return;
    }
    helper.inFlight--;
    if ('error' in message) {
      this.fail(new Error(`rebuild of ${message.ptceId}: ${message.error}`));
      return;
    }
    // A failure of `each` is `taken`'s, and reaches foldAll through `fail`.
    void this.take(message).then(
      () => this.handTo(helper),
      () => undefined,
    );
  }

  private handTo(helper: Helper): void {
    while (helper.ready && helper.inFlight < HANDED_AHEAD && this.queue.length > 0 && !this.failed) {
      helper.inFlight++;
      helper.worker.postMessage(this.queue.shift());
    }
    this.wake();
  }

  private take(folded: FoldedPtce): Promise<void> {
    const each = this.each;
    this.taken = this.taken.then(() => (this.failed ? undefined : each(folded)));
    this.taken.catch((error: unknown) => this.fail(error));
    return this.taken;
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(error instanceof Error ? error : new Error(String(error)));
    this.wake();
  }

  private wake(): void {
    for (const resolve of this.waiting) resolve();
    this.waiting.clear();
  }
}
