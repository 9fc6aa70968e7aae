/**
 * PostgreSQL stopped under load and started again, on a PostgreSQL of the drill's own (never the
 * one tests share), with its own durability: while it is down a write is answered 503 with
 * Retry-After, never 500 nor a hang; once it is back the same server, never restarted, writes
 * again; and every write it acknowledged, before or after, is in the log exactly once with its
 * chains whole. Used by `pnpm drill postgres-restart` and by a test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { verifyPtceChains } from '@ptce/read-models';
import { type RunningService, startService } from '../e2e/split.ts';
import { PrivatePostgres } from '../setup/private-postgres.ts';
import { joinMember, logTally, lostAndDuplicated, registerPtce, secretaryHeaders } from './harness.ts';

export interface PostgresRestartOptions {
  /** Milliseconds of load before the stop, while PostgreSQL is down, and after it is back. */
  readonly phaseMs: number;
  readonly writers: number;
  /** `immediate`: PostgreSQL dies as in a crash (SIGQUIT) and replays its WAL at start. */
  readonly stop: 'fast' | 'immediate';
  readonly log?: (line: string) => void;
}

export interface PostgresRestartFigures {
  readonly acknowledgedBefore: number;
  /** While PostgreSQL was down: answers 503 with Retry-After, and any other answer (must be 0). */
  readonly unavailable: number;
  readonly otherAnswersWhileDown: number;
  readonly acknowledgedWhileDown: number;
  /** From PostgreSQL accepting connections again to the server's first acknowledged write. */
  readonly firstWriteAfterMs: number;
  readonly acknowledgedAfter: number;
  /** Events of acknowledged writes missing, or organisations joined twice: must be 0. */
  readonly lost: number;
  readonly duplicated: number;
  readonly chainsHold: boolean;
}

export async function postgresRestartDrill(options: PostgresRestartOptions): Promise<PostgresRestartFigures> {
  const log = options.log ?? (() => {});
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-drill-pg-'));
  const postgres = await PrivatePostgres.create();
  let server: RunningService | undefined;
  try {
    await postgres.start({ throwaway: false });
    const env = {
      DATA_DIR: dataDir,
      EVENT_STORE_URL: postgres.url,
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '1000000',
    };
    server = await startService('standalone', env);
    const headers = await secretaryHeaders(env);
    const url = server.url;
    await registerPtce(url, headers, 'drill-pg');

    const acknowledged: string[] = [];
    let next = 0;
    interface Tally {
      acknowledged: number;
      unavailable: number;
      other: number;
      firstAt: number | null;
    }
    const load = async (ms: number): Promise<Tally> => {
      const end = performance.now() + ms;
      const tally: Tally = { acknowledged: 0, unavailable: 0, other: 0, firstAt: null };
      const writer = async () => {
        while (performance.now() < end) {
          const n = next++;
          const answer = await joinMember(url, headers, 'drill-pg', `org-${n}`);
          const body = (await answer.json()) as { eventIds?: string[] };
          if (answer.status === 201) {
            acknowledged.push(...(body.eventIds ?? []));
            tally.acknowledged++;
            tally.firstAt ??= performance.now();
          } else if (answer.status === 503 && answer.headers.get('retry-after') !== null) {
            tally.unavailable++;
            // As a client told to: a short wait, not a hammering loop.
            await new Promise((resolve) => setTimeout(resolve, 100));
          } else {
            tally.other++;
          }
        }
      };
      await Promise.all(Array.from({ length: options.writers }, writer));
      return tally;
    };

    const before = await load(options.phaseMs);
    log(`PostgreSQL up: ${before.acknowledged} writes acknowledged, ${before.other} other answers`);
    await postgres.stop(options.stop);
    const down = await load(options.phaseMs);
    log(
      `PostgreSQL down: ${down.unavailable} answered 503 with Retry-After, ${down.acknowledged} acknowledged, ${down.other} other`,
    );
    await postgres.start({ throwaway: false });
    const back = performance.now();
    const after = await load(options.phaseMs);
    const firstWriteAfterMs = after.firstAt === null ? Number.POSITIVE_INFINITY : after.firstAt - back;
    log(
      `PostgreSQL back: first write acknowledged after ${firstWriteAfterMs.toFixed(0)} ms, ${after.acknowledged} in all`,
    );
    await server.stop();
    server = undefined;

    const store = await openEventStore(postgres.url);
    try {
      const counted = lostAndDuplicated(acknowledged, await logTally(store));
      return {
        acknowledgedBefore: before.acknowledged,
        unavailable: down.unavailable,
        otherAnswersWhileDown: down.other,
        acknowledgedWhileDown: down.acknowledged,
        firstWriteAfterMs: Math.round(firstWriteAfterMs),
        acknowledgedAfter: after.acknowledged,
        ...counted,
        chainsHold: (await verifyPtceChains(store, 'drill-pg')).ok,
      };
    } finally {
      await store.close();
    }
  } finally {
    await server?.stop();
    await postgres.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
