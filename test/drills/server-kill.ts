/**
 * The standalone server killed (SIGKILL) again and again while writers keep writing, on the
 * embedded SQLite store: every write it acknowledged must be in the log exactly once, a write cut
 * off by the kill and sent again with its Idempotency-Key must never be recorded twice, and every
 * hash chain must hold. Used by `pnpm drill server-kill` (20 kills) and by a shorter test.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStores } from '@ptce/event-store';
import { verifyPtceChains } from '@ptce/read-models';
import { type RunningService, startService } from '../e2e/split.ts';
import { joinMember, logTally, lostAndDuplicated, registerPtce, secretaryHeaders } from './harness.ts';

export interface ServerKillOptions {
  readonly kills: number;
  /** Concurrent writers, each sending one write at a time. */
  readonly writers: number;
  /** Milliseconds of writes between a start and its kill, drawn between these two. */
  readonly loadMs: readonly [number, number];
  readonly log?: (line: string) => void;
}

export interface ServerKillFigures {
  readonly kills: number;
  /** Writes answered 201, before any kill or after. */
  readonly acknowledged: number;
  /** Writes whose answer the kill cut off, sent again with their Idempotency-Key after the restart. */
  readonly resent: number;
  /** Events of an acknowledged write missing from the log, or found twice: must be 0. */
  readonly lost: number;
  readonly duplicated: number;
  /** Every PTCE's chains recomputed after the last restart. */
  readonly chainsHold: boolean;
  /** From spawning the process to its first answer, after a kill. */
  readonly restartMsMedian: number;
  readonly restartMsMax: number;
}

interface Write {
  readonly key: string;
  readonly ptceId: string;
  readonly organisationId: string;
}

const PTCES = ['drill-a', 'drill-b', 'drill-c'];

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
};

export async function serverKillDrill(options: ServerKillOptions): Promise<ServerKillFigures> {
  const log = options.log ?? (() => {});
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-drill-kill-'));
  // What the server was run with, the drill's own files: nothing shared with other tests.
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'info', RATE_LIMIT_MAX: '1000000' };
  let server: RunningService | undefined;
  const restarts: number[] = [];
  const start = async () => {
    const started = performance.now();
    server = await startService('standalone', env);
    return performance.now() - started;
  };
  try {
    await start();
    const headers = await secretaryHeaders(env);
    const send = async (write: Write) => {
      const response = await joinMember(server!.url, headers, write.ptceId, write.organisationId, {
        key: write.key,
        occurredAt: '2021-06-01',
      });
      const body = (await response.json()) as { eventIds?: string[] };
      return { status: response.status, eventIds: body.eventIds ?? [] };
    };
    for (const ptceId of PTCES) await registerPtce(server!.url, headers, ptceId);

    const acknowledged = new Map<string, string[]>();
    let cutOff: Write[] = [];
    let resent = 0;
    let next = 0;
    const newWrite = (): Write => {
      const n = next++;
      return { key: randomUUID(), ptceId: PTCES[n % PTCES.length]!, organisationId: `org-${n}` };
    };
    /** Writes until the server stops answering; returns the writes whose answer never came. */
    const writer = async (): Promise<Write[]> => {
      for (;;) {
        const write = newWrite();
        try {
          const answer = await send(write);
          if (answer.status !== 201) throw new Error(`write ${write.organisationId}: ${answer.status}`);
          acknowledged.set(write.key, answer.eventIds);
        } catch (error) {
          if (error instanceof TypeError) return [write]; // the connection died with the server
          throw error;
        }
      }
    };

    for (let kill = 0; kill < options.kills; kill++) {
      const writers = Array.from({ length: options.writers }, writer);
      const [low, high] = options.loadMs;
      await new Promise((resolve) => setTimeout(resolve, low + Math.random() * (high - low)));
      server!.child.kill('SIGKILL');
      await server!.stop();
      cutOff = cutOff.concat((await Promise.all(writers)).flat());
      restarts.push(await start());
      // Each write cut off is sent again as a client would: the same key, the same body.
      for (const write of cutOff) {
        const answer = await send(write);
        resent++;
        if (answer.status !== 201) throw new Error(`resending ${write.organisationId}: ${answer.status}`);
        acknowledged.set(write.key, answer.eventIds);
      }
      cutOff = [];
      log(
        `kill ${kill + 1}/${options.kills}: ${acknowledged.size} writes acknowledged, restart ${restarts.at(-1)!.toFixed(0)} ms`,
      );
    }
    await server!.stop();
    server = undefined;

    const stores = await openStores(`sqlite:${path.join(dataDir, 'ptce.db')}`, { dataDir });
    try {
      const { lost, duplicated } = lostAndDuplicated(
        [...acknowledged.values()].flat(),
        await logTally(stores.events),
      );
      let chainsHold = true;
      for (const ptceId of PTCES) chainsHold &&= (await verifyPtceChains(stores.events, ptceId)).ok;
      return {
        kills: options.kills,
        acknowledged: acknowledged.size,
        resent,
        lost,
        duplicated,
        chainsHold,
        restartMsMedian: Math.round(median(restarts)),
        restartMsMax: Math.round(Math.max(0, ...restarts)),
      };
    } finally {
      await stores.close();
    }
  } finally {
    if (server) {
      server.child.kill('SIGKILL');
      await server.stop();
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
