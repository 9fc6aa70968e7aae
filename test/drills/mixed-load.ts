/**
 * The split deployment under a mixed load: the six services as processes of their own on a
 * PostgreSQL and a Redis of the drill's own, nginx in front with the gateway's configuration, and
 * clients sending 70 % reads and 30 % writes through its one port. Figures: throughput, latency
 * percentiles, and answers by class — no 5xx is allowed.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, loadKeyEncryptionKey } from '@ptce/platform';
import {
  nginxBinary,
  type RunningGateway,
  SERVICES,
  type ServiceName,
  startGateway,
} from '../deploy/nginx.ts';
import { type RunningService, startService } from '../e2e/split.ts';
import { freePort, PrivatePostgres } from '../setup/private-postgres.ts';
import { joinMember, registerPtce, secretaryHeaders } from './harness.ts';
import { startRedis, stopped } from './redis-loss.ts';

export interface MixedLoadOptions {
  readonly clients: number;
  readonly seconds: number;
  /** Share of reads among requests, 0–1. */
  readonly readShare: number;
  readonly log?: (line: string) => void;
}

export interface MixedLoadFigures {
  readonly clients: number;
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly reads: number;
  readonly writes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly status2xx: number;
  /** Refusals a correct client can meet under load (a 409 on a revision race): counted, not failures. */
  readonly status4xx: number;
  readonly status5xx: number;
  /** Requests that got no answer at all. */
  readonly errors: number;
}

const PTCES = Array.from({ length: 10 }, (_, i) => `charge-${i}`);
const READS = ['', '/stage', '/participation', '/legal-transition', '/eligibility', '/stage/timeline'];

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export async function mixedLoadDrill(options: MixedLoadOptions): Promise<MixedLoadFigures | string> {
  const log = options.log ?? (() => {});
  const nginx = nginxBinary();
  if (!nginx) return 'no nginx binary (apt-get install nginx)';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-drill-load-'));
  const postgres = await PrivatePostgres.create();
  const redisPort = await freePort();
  let redis: ChildProcess | undefined;
  const services: RunningService[] = [];
  let gateway: RunningGateway | undefined;
  try {
    await postgres.start({ throwaway: false });
    redis = await startRedis(redisPort);
    const env: Record<string, string> = {
      EVENT_STORE_URL: postgres.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '1000000',
      TRUST_PROXY: '127.0.0.1',
    };
    // The deployment's keys exist before its services start, as they would from a mounted secret.
    const headers = await secretaryHeaders(env);
    loadKeyEncryptionKey({ file: loadConfig({ ...env, LOG_LEVEL: 'silent' }).PERSONAL_DATA_KEY_FILE });
    const others = SERVICES.filter((name) => name !== 'membership');
    const started = await Promise.allSettled(others.map((name) => startService(name, env)));
    for (const result of started) if (result.status === 'fulfilled') services.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const upstreams = services.map((s) => `${s.name}=${s.url}`).join(',');
    services.push(await startService('membership', { ...env, UPSTREAMS: upstreams }));
    const hostPort = Object.fromEntries(services.map((s) => [s.name, new URL(s.url).host])) as Record<
      ServiceName,
      string
    >;
    gateway = await startGateway(nginx, hostPort, 4 * options.clients + 64);
    const url = gateway.url;

    let next = 0;
    const write = (ptceId: string) => {
      const n = next++;
      return joinMember(url, headers, ptceId, `org-${n}`, {
        category: n % 3 === 0 ? 'ess_enterprise' : n % 3 === 1 ? 'enterprise' : 'local_authority',
        occurredAt: `20${20 + (n % 5)}-0${1 + (n % 9)}-15`,
      });
    };
    for (const ptceId of PTCES) {
      await registerPtce(url, headers, ptceId);
      for (let i = 0; i < 20; i++) await (await write(ptceId)).arrayBuffer();
    }
    log(`six services, nginx, PostgreSQL and Redis up; ${PTCES.length} PTCE seeded`);

    const latencies: number[] = [];
    const tally = { reads: 0, writes: 0, status2xx: 0, status4xx: 0, status5xx: 0, errors: 0 };
    const end = performance.now() + options.seconds * 1000;
    const client = async (index: number) => {
      let i = index;
      while (performance.now() < end) {
        i++;
        const ptceId = PTCES[i % PTCES.length]!;
        const reading = Math.random() < options.readShare;
        const started = performance.now();
        try {
          const answer = reading
            ? await fetch(`${url}/v1/ptces/${ptceId}${READS[i % READS.length]}`, { headers })
            : await write(ptceId);
          await answer.arrayBuffer();
          latencies.push(performance.now() - started);
          if (reading) tally.reads++;
          else tally.writes++;
          if (answer.status >= 500) tally.status5xx++;
          else if (answer.status >= 400) tally.status4xx++;
          else tally.status2xx++;
        } catch {
          tally.errors++;
        }
      }
    };
    const began = performance.now();
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
    const seconds = (performance.now() - began) / 1000;
    latencies.sort((a, b) => a - b);
    const requests = latencies.length;
    return {
      clients: options.clients,
      seconds: Math.round(seconds * 10) / 10,
      requests,
      requestsPerSecond: Math.round(requests / seconds),
      ...tally,
      p50Ms: Math.round(quantile(latencies, 0.5)),
      p99Ms: Math.round(quantile(latencies, 0.99)),
    };
  } finally {
    await gateway?.stop();
    await Promise.all(services.map((s) => s.stop()));
    if (redis) {
      redis.kill('SIGKILL');
      await stopped(redis);
    }
    await postgres.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
