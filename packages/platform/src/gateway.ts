import { isDeepStrictEqual } from 'node:util';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { App } from './app.ts';
import type { Upstream } from './config.ts';
import { ProblemError, sendProblem } from './problem.ts';

/**
 * What a split deployment answers for all its services at once, which a gateway cannot compute:
 * nginx routes each URL to one service, but the deployment's readiness and its one OpenAPI
 * document are made of every service's. The process configured with UPSTREAMS answers them, from
 * its own and from what the other services answer live, so they stay true as services change.
 */
export const GATEWAY_READY_PATH = '/gateway/health/ready';
export const GATEWAY_DOCS_PATH = '/gateway/docs/json';
/** How long one round of readiness questions answers for. */
export const READINESS_REUSE_MS = 1_000;

const serviceStatusSchema = z.enum(['up', 'degraded', 'down']);
type ServiceStatus = z.infer<typeof serviceStatusSchema>;

const serviceReadinessSchema = z.object({
  status: serviceStatusSchema,
  /** The service's own checks, as its /health/ready names them; absent when it did not answer. */
  checks: z.record(z.string(), z.string()).optional(),
  /** Why it is counted down when it did not answer with its readiness. */
  error: z.string().optional(),
});
type ServiceReadiness = z.infer<typeof serviceReadinessSchema>;

export const deploymentReadinessSchema = z.object({
  status: z.literal('up'),
  services: z.record(z.string(), serviceReadinessSchema),
});

/** Only the members every OpenAPI 3.1 document has are checked; the rest passes as it came. */
const openApiDocumentSchema = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  components: z.looseObject({}).optional(),
  tags: z.array(z.looseObject({ name: z.string() })).optional(),
});
export type OpenApiDocument = z.infer<typeof openApiDocumentSchema>;

/** A service's own /health/ready body, 200 or 503. */
const upstreamReadinessSchema = z.looseObject({
  status: z.string().optional(),
  checks: z.record(z.string(), z.string()).optional(),
});

export interface GatewayOptions {
  /** The modules this process mounts: they answer through the process itself. */
  readonly own: readonly string[];
  readonly upstreams: readonly Upstream[];
  /** For each call to another service. */
  readonly timeoutMs?: number;
}

function readinessOf(status: number, body: unknown): ServiceReadiness {
  const parsed = upstreamReadinessSchema.safeParse(body);
  if (!parsed.success) return { status: 'down', error: `answered ${status} without a readiness body` };
  const checks = parsed.data.checks;
  const withChecks = checks ? { checks } : {};
  if (status === 200) return { status: 'up', ...withChecks };
  // A service answers 503 `degraded` when only what it can do without (Redis, a fresh revocation
  // list) is down: it still serves.
  if (status === 503 && parsed.data.status === 'degraded') return { status: 'degraded', ...withChecks };
  return { status: 'down', ...withChecks };
}

async function fetchJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // A body that is not JSON tells nothing: the status alone decides.
  }
  return { status: response.status, body };
}

/**
 * One document of every service's routes. The same route in two documents (the platform's own:
 * /v1/me, /health/*) must be described alike, and so must a component schema of one name: two
 * services disagreeing would leave the merged document lying about one of them.
 */
export function mergeOpenApiDocuments(
  documents: readonly { readonly service: string; readonly document: OpenApiDocument }[],
): OpenApiDocument {
  const [first] = documents;
  if (!first) throw new Error('no document to merge');
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = {};
  const tags = new Map<string, unknown>();
  const describedBy = new Map<string, string>();
  const disagreements: string[] = [];
  for (const { service, document } of documents) {
    for (const [route, operations] of Object.entries(document.paths)) {
      const merged = paths[route] ?? {};
      paths[route] = merged;
      for (const [method, operation] of Object.entries(operations)) {
        const key = `${method.toUpperCase()} ${route}`;
        if (!(method in merged)) {
          merged[method] = operation;
          describedBy.set(key, service);
        } else if (!isDeepStrictEqual(merged[method], operation)) {
          disagreements.push(`${key} (${describedBy.get(key)} and ${service})`);
        }
      }
    }
    const componentSchemas = document.components?.schemas;
    if (componentSchemas && typeof componentSchemas === 'object') {
      for (const [name, schema] of Object.entries(componentSchemas)) {
        if (!(name in schemas)) schemas[name] = schema;
        else if (!isDeepStrictEqual(schemas[name], schema))
          disagreements.push(`components.schemas.${name} (${service})`);
      }
    }
    for (const tag of document.tags ?? []) if (!tags.has(tag.name)) tags.set(tag.name, tag);
  }
  if (disagreements.length > 0) {
    throw new ProblemError(
      502,
      'openapi_conflict',
      `The services describe the same thing differently: ${disagreements.join(', ')}.`,
      { conflicts: disagreements },
    );
  }
  return {
    ...first.document,
    paths,
    ...(first.document.components || Object.keys(schemas).length > 0
      ? {
          components: {
            ...first.document.components,
            ...(Object.keys(schemas).length > 0 ? { schemas } : {}),
          },
        }
      : {}),
    ...(tags.size > 0 ? { tags: [...tags.values()] as OpenApiDocument['tags'] } : {}),
  };
}

/** GET /gateway/health/ready and GET /gateway/docs/json, on the process configured with UPSTREAMS. */
export function installGateway(app: App, options: GatewayOptions): void {
  const timeoutMs = options.timeoutMs ?? 2_000;

  const askEveryService = async (log: FastifyBaseLogger): Promise<Record<string, ServiceReadiness>> => {
    const own = await app.inject({ method: 'GET', url: '/health/ready' });
    const ownReadiness = readinessOf(own.statusCode, safeJson(own.body));
    const others = await Promise.all(
      options.upstreams.map(async ({ name, url }): Promise<[string, ServiceReadiness]> => {
        try {
          const { status, body } = await fetchJson(`${url}/health/ready`, timeoutMs);
          return [name, readinessOf(status, body)];
        } catch (err) {
          log.warn({ service: name, err: String(err) }, 'service readiness not reachable');
          return [name, { status: 'down', error: errorText(err) }];
        }
      }),
    );
    return Object.fromEntries([
      ...options.own.map((name): [string, ServiceReadiness] => [name, ownReadiness]),
      ...others,
    ]);
  };
  // The route is public and never rate limited, yet each answer asks every service: requests
  // within READINESS_REUSE_MS of one another share one round of questions.
  let lastAsked: { at: number; services: Promise<Record<string, ServiceReadiness>> } | undefined;

  app.get(
    GATEWAY_READY_PATH,
    {
      // Polled by orchestrators, like every service's own readiness: never refused.
      config: { public: true, rateLimit: false },
      schema: {
        // Served at the gateway as /health/ready: this address is internal to the deployment.
        hide: true,
        response: { 200: deploymentReadinessSchema },
      },
    },
    async (request, reply) => {
      const now = Date.now();
      if (!lastAsked || now - lastAsked.at >= READINESS_REUSE_MS) {
        lastAsked = { at: now, services: askEveryService(request.log) };
      }
      const services = await lastAsked.services;
      const notUp = (wanted: ServiceStatus) =>
        Object.entries(services)
          .filter(([, readiness]) => readiness.status === wanted)
          .map(([name]) => name);
      const down = notUp('down');
      const degraded = notUp('degraded');
      if (down.length === 0 && degraded.length === 0) return { status: 'up' as const, services };
      return sendProblem(
        reply,
        request,
        new ProblemError(
          503,
          'not_ready',
          `Not ready: ${[...down.map((n) => `${n} down`), ...degraded.map((n) => `${n} degraded`)].join(', ')}.`,
          { status: down.length === 0 ? 'degraded' : 'down', down, degraded, services },
        ).withHeaders({ 'retry-after': '5' }),
      );
    },
  );

  app.get(
    GATEWAY_DOCS_PATH,
    {
      // Rate limited, unlike readiness: each request costs a call to every other service.
      config: { public: true },
      schema: { hide: true, response: { 200: openApiDocumentSchema } },
    },
    async () => {
      const ownDocument = openApiDocumentSchema.parse(app.swagger());
      const others = await Promise.all(
        options.upstreams.map(async ({ name, url }) => {
          let answer: { status: number; body: unknown };
          try {
            answer = await fetchJson(`${url}/docs/json`, timeoutMs);
          } catch (err) {
            throw upstreamUnavailable(name, errorText(err));
          }
          const parsed = openApiDocumentSchema.safeParse(answer.body);
          if (answer.status !== 200 || !parsed.success)
            throw upstreamUnavailable(name, `answered ${answer.status} without an OpenAPI document`);
          return { service: name, document: parsed.data };
        }),
      );
      return mergeOpenApiDocuments([{ service: options.own.join('+'), document: ownDocument }, ...others]);
    },
  );
}

/** A document missing a service would be a wrong contract, not a smaller one: none is served. */
function upstreamUnavailable(service: string, reason: string): ProblemError {
  return new ProblemError(
    502,
    'upstream_unavailable',
    `The ${service} service did not give its OpenAPI document: ${reason}.`,
    { service },
  ).withHeaders({ 'retry-after': '5' });
}

function errorText(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time';
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
