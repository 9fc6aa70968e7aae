/**
 * PostgreSQL stopped under load and started again, on a PostgreSQL of the drill's own (never the
 * one tests share), with its own durability: while it is down a write is answered 503 with
 * Retry-After, never 500 nor a hang; once it is back the same server, never restarted, writes
 * again; and every write it acknowledged, before or after, is in the log exactly once with its
 * chains whole. Used by `pnpm drill postgres-restart` and by a test.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { verifyPtceChains } from '@ptce/read-models';
import { type RunningService, startService } from '../e2e/split.ts';
import { PrivatePostgres } from '../setup/private-postgres.ts';

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
    const config = loadConfig(env);
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('the drill needs the server to have made its own keys');
    const token = await mintToken(
      { sub: 'drill', role: 'secretary', ptces: ['*'], ttl: '2h' },
      keys.privateKey,
      config,
    );
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const url = server.url;
    const registered = await fetch(`${url}/v1/ptces`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        ptceId: 'drill-pg',
        name: 'PTCE drill-pg',
        territory: { name: 'Drill' },
        pilot: { organisationId: 'pilote', name: 'Pilote', category: 'ess_enterprise' },
        occurredAt: '2020-01-01',
      }),
    });
    if (registered.status !== 201)
      throw new Error(`registering: ${registered.status} ${await registered.text()}`);

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
          const answer = await fetch(`${url}/v1/ptces/drill-pg/members`, {
            method: 'POST',
            headers: { ...headers, 'idempotency-key': randomUUID() },
            body: JSON.stringify({
              organisationId: `org-${n}`,
              name: `Org ${n}`,
              category: 'enterprise',
              occurredAt: '2021-01-01',
            }),
            signal: AbortSignal.timeout(30_000),
          });
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
      const seen = new Map<string, number>();
      const joined = new Map<string, number>();
      for (let from: string | undefined; ; ) {
        const page = await store.readAll({ ...(from === undefined ? {} : { after: from }), limit: 1000 });
        for (const event of page) {
          seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
          if (event.type === 'MemberJoined') {
            const id = String(event.data.organisationId);
            joined.set(id, (joined.get(id) ?? 0) + 1);
          }
        }
        if (page.length < 1000) break;
        from = page.at(-1)!.position;
      }
      return {
        acknowledgedBefore: before.acknowledged,
        unavailable: down.unavailable,
        otherAnswersWhileDown: down.other,
        acknowledgedWhileDown: down.acknowledged,
        firstWriteAfterMs: Math.round(firstWriteAfterMs),
        acknowledgedAfter: after.acknowledged,
        lost: acknowledged.filter((id) => seen.get(id) !== 1).length,
        duplicated: [...joined.values()].filter((count) => count > 1).length,
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
