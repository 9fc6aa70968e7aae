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

/**
 * Folds `ptceIds` in `threads` threads side by side, each reading the store again at `storeUrl`:
 * one PTCE's fold needs no other's, and a rebuild of a long log is otherwise one core's work.
 * `each` is called with every folded PTCE in turn (never two at once), in the order they are
 * done; a thread is handed its next PTCE once `each` has taken its last, so that no more models
 * wait in memory than there are threads. The first failure stops every thread and is thrown.
 */
export async function foldInThreads(
  ptceIds: readonly string[],
  threads: number,
  data: RebuildThreadData,
  each: (folded: FoldedPtce) => Promise<void>,
): Promise<void> {
  const queue = [...ptceIds];
  const workers = Array.from({ length: Math.max(1, Math.min(threads, queue.length)) }, () =>
    startThread(data),
  );
  let taken: Promise<void> = Promise.resolve();
  let failed = false;
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            // Nothing left: the thread closes its store and ends, which settles it.
            const handNext = () => worker.postMessage(queue.shift() ?? null);
            worker.on('message', (answer: RebuildThreadAnswer) => {
              if ('error' in answer) {
                reject(new Error(`rebuild of ${answer.ptceId}: ${answer.error}`));
                return;
              }
              taken = taken.then(() => (failed ? undefined : each(answer)));
              taken.then(handNext, reject);
            });
            worker.once('error', reject);
            worker.once('exit', (code) => {
              if (code === 0 && queue.length === 0) resolve();
              else reject(new Error(`a rebuild thread stopped (exit code ${code})`));
            });
            handNext();
          }),
      ),
    );
    await taken;
  } finally {
    failed = true;
    await Promise.all(workers.map((worker) => worker.terminate()));
    // No model is taken after the rebuild has failed: its caller is letting the lock go.
    await taken.catch(() => undefined);
  }
}
