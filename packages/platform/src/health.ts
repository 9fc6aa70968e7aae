import type { EventStore } from '@ptce/event-store';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { OPERATIONS_TAG, problemResponse } from './openapi.ts';
import { ProblemError, sendProblem } from './problem.ts';

/** Resolves when the dependency answers; rejects (or times out) when it is down. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthOptions {
  readonly eventStore: EventStore | undefined;
  readonly redis: Redis | undefined;
  readonly readiness: Record<string, ReadinessCheck>;
  readonly timeoutMs?: number;
}

type Status = 'up' | 'down';

const liveAnswer = z.object({ status: z.literal('up') });
const readyAnswer = z.object({
  status: z.literal('up'),
  checks: z.record(z.string(), z.enum(['up', 'down'])).describe('each dependency checked, by name'),
});

function withTimeout(check: ReadinessCheck, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([check(), timeout]).finally(() => clearTimeout(timer));
}

export function installHealth(app: FastifyInstance, options: HealthOptions): void {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const checks: Record<string, ReadinessCheck> = {};
  const store = options.eventStore;
  if (store) checks.eventStore = () => store.ping();
  const redis = options.redis;
  if (redis) {
    checks.redis = async () => {
      await redis.ping();
    };
  }
  Object.assign(checks, options.readiness);

  const publicRoute = { public: true, rateLimit: false };
  const ops = { tags: [OPERATIONS_TAG.name], security: [] };

  app.get(
    '/health/live',
    {
      config: publicRoute,
      schema: {
        ...ops,
        operationId: 'getLiveness',
        summary: 'The process answers',
        description:
          'Answers while the process runs, whatever its dependencies: for an orchestrator deciding to restart it.',
        response: { 200: liveAnswer },
      },
    },
    async () => ({
      status: 'up',
    }),
  );

  app.get(
    '/health/ready',
    {
      config: publicRoute,
      schema: {
        ...ops,
        operationId: 'getReadiness',
        summary: 'The event store and, when configured, Redis answer',
        description:
          'Each dependency checked within 2 s: for an orchestrator deciding to send traffic. 503 names what is down; `degraded` when only what the service can do without (Redis, a fresh revocation list) is.',
        response: {
          200: readyAnswer,
          503: problemResponse('not_ready: a dependency is down; `down` and `checks` name it', {
            'retry-after': 'seconds to wait before asking again',
          }),
        },
      },
    },
    async (request, reply) => {
      const names = Object.keys(checks);
      const results = await Promise.allSettled(names.map((name) => withTimeout(checks[name]!, timeoutMs)));
      const status: Record<string, Status> = {};
      const down: string[] = [];
      results.forEach((result, i) => {
        const name = names[i]!;
        status[name] = result.status === 'fulfilled' ? 'up' : 'down';
        if (result.status === 'rejected') {
          down.push(name);
          request.log.warn({ check: name, err: String(result.reason) }, 'readiness check failed');
        }
      });
      if (down.length === 0) return { status: 'up', checks: status };
      // Without Redis the service still writes and reads (by replaying), and with a stale
      // revocation list it still authenticates (with the last list read), hence "degraded";
      // anything else down means it cannot serve.
      const degradedOnly = down.every((name) => name === 'redis' || name === 'revocations');
      return sendProblem(
        reply,
        request,
        new ProblemError(503, 'not_ready', `Not ready: ${down.join(', ')} down.`, {
          status: degradedOnly ? 'degraded' : 'down',
          down,
          checks: status,
        }).withHeaders({ 'retry-after': '5' }),
      );
    },
  );
}
