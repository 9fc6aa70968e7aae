/**
 * A thread of a rebuild (see FoldThreads): opens the store at the URL it was started with, says
 * it is ready, then folds each PTCE it is handed and answers its model; handed null, it ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openEventStore } from '@ptce/event-store';
import { foldPtce, type RebuildThreadAnswer, type RebuildThreadData } from './rebuild-threads.ts';

const data = workerData as RebuildThreadData;
const port = parentPort;
if (!port) throw new Error('rebuild-worker runs as a worker thread');
const store = await openEventStore(data.storeUrl);
port.postMessage({ ready: true });

// One PTCE at a time, in the order handed: two folded at once would hold both logs in memory.
let folding: Promise<void> = Promise.resolve();
port.on('message', (ptceId: string | null) => {
  folding = folding.then(async () => {
    if (ptceId === null) {
      await store.close();
      port.close();
      return;
    }
    let answer: RebuildThreadAnswer;
    try {
      answer = await foldPtce(store, ptceId, data);
    } catch (err) {
      answer = { ptceId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    port.postMessage(answer);
  });
});
