/**
 * Redis killed under load, on a `redis-server` of the drill's own (never the one tests share):
 * the standalone server must go on writing and reading, say `degraded` on /health/ready while
 * Redis is gone, and be whole again when it returns — ready, and its projector's models caught
 * up with the log in the new Redis. Used by `pnpm drill redis-loss` and by a test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { DEFAULT_STAGE_RULES } from '@ptce/projections';
import { RedisReadModels, readModelsPrefix } from '@ptce/read-models';
import { Redis } from 'ioredis';
import { type RunningService, startService } from '../e2e/split.ts';
import { freePort } from '../setup/private-postgres.ts';
import { joinMember, registerPtce, secretaryHeaders } from './harness.ts';

export interface RedisLossOptions {
  /** Milliseconds of load before the kill, with Redis gone, and after it returns. */
  readonly phaseMs: number;
  readonly writers: number;
  readonly readers: number;
  readonly log?: (line: string) => void;
}

export interface PhaseFigures {
  readonly writes: number;
  readonly reads: number;
  /** Answers other than 201 to a write or 200 to a read: must be 0. */
  readonly failures: number;
}

export interface RedisLossFigures {
  readonly before: PhaseFigures;
  readonly without: PhaseFigures;
  readonly after: PhaseFigures;
  /** What /health/ready answered while Redis was gone. */
  readonly readyWithout: { readonly status: number; readonly state: string | null; readonly down: string[] };
  /** From Redis starting again to /health/ready answering 200. */
  readonly readyAgainMs: number;
  /** From Redis starting again to the projector's checkpoint in it reaching the log's head. */
  readonly caughtUpMs: number;
}

/** A `redis-server` of the caller's own on `port`, without persistence; resolves once it answers. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // Refused until the server listens: those are the tries, not errors to report.
  probe.on('error', () => {});
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await probe.connect();
        await probe.ping();
        return child;
      } catch (error) {
        if (attempt === 100) throw error;
        probe.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    probe.disconnect();
  }
}

export const stopped = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });

const until = async (check: () => Promise<boolean>, timeoutMs: number, what: string) => {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

export async function redisLossDrill(options: RedisLossOptions): Promise<RedisLossFigures> {
  const log = options.log ?? (() => {});
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-drill-redis-'));
  const port = await freePort();
  const prefix = `ptce-drill-${randomUUID()}:`;
  const env = {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '1000000',
    REDIS_URL: `redis://127.0.0.1:${port}`,
    READ_MODELS_PREFIX: prefix,
  };
  let redis: ChildProcess | undefined = await startRedis(port);
  let server: RunningService | undefined;
  try {
    server = await startService('standalone', env);
    const headers = await secretaryHeaders(env);
    const url = server.url;
    await registerPtce(url, headers, 'drill-redis');

    let next = 0;
    /** Writers and readers for `ms`: how many of each, and how many answers were not a success. */
    const load = async (ms: number): Promise<PhaseFigures> => {
      const end = performance.now() + ms;
      let writes = 0;
      let reads = 0;
      let failures = 0;
      const writer = async () => {
        while (performance.now() < end) {
          const n = next++;
          const answer = await joinMember(url, headers, 'drill-redis', `org-${n}`);
          await answer.arrayBuffer();
          writes++;
          if (answer.status !== 201) failures++;
        }
      };
      const reader = async () => {
        while (performance.now() < end) {
          const answer = await fetch(`${url}/v1/ptces/drill-redis/stage`, { headers });
          await answer.arrayBuffer();
          reads++;
          if (answer.status !== 200) failures++;
        }
      };
      await Promise.all([
        ...Array.from({ length: options.writers }, writer),
        ...Array.from({ length: options.readers }, reader),
      ]);
      return { writes, reads, failures };
    };

    const before = await load(options.phaseMs);
    log(`Redis up: ${before.writes} writes, ${before.reads} reads, ${before.failures} failures`);
    redis.kill('SIGKILL');
    await stopped(redis);
    redis = undefined;
    const without = await load(options.phaseMs);
    const ready = await fetch(`${url}/health/ready`);
    const readyBody = (await ready.json()) as { status?: string; down?: string[] };
    const readyWithout = {
      status: ready.status,
      state: readyBody.status ?? null,
      down: readyBody.down ?? [],
    };
    log(
      `Redis gone: ${without.writes} writes, ${without.reads} reads, ${without.failures} failures; ready ${JSON.stringify(readyWithout)}`,
    );

    redis = await startRedis(port);
    const back = performance.now();
    await until(async () => (await fetch(`${url}/health/ready`)).status === 200, 60_000, 'ready again');
    const readyAgainMs = performance.now() - back;
    const after = await load(options.phaseMs);
    log(
      `Redis back: ready in ${readyAgainMs.toFixed(0)} ms; ${after.writes} writes, ${after.reads} reads, ${after.failures} failures`,
    );

    // The new Redis started empty: the projector must have written every model again.
    const store = await openEventStore(`sqlite:${path.join(dataDir, 'ptce.db')}`);
    const client = new Redis({ port, host: '127.0.0.1' });
    try {
      const models = new RedisReadModels(client, readModelsPrefix(prefix, DEFAULT_STAGE_RULES));
      const head = await store.headPosition();
      await until(
        async () => ((await models.checkpoint()) ?? '') >= (head ?? ''),
        60_000,
        'the projector caught up',
      );
      const caughtUpMs = performance.now() - back;
      return {
        before,
        without,
        after,
        readyWithout,
        readyAgainMs: Math.round(readyAgainMs),
        caughtUpMs: Math.round(caughtUpMs),
      };
    } finally {
      client.disconnect();
      await store.close();
    }
  } finally {
    await server?.stop();
    if (redis) {
      redis.kill('SIGKILL');
      await stopped(redis);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
