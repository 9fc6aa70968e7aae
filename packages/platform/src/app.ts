import { type KeyObject, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { EventStore, RevocationStore } from '@ptce/event-store';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginOptions,
  type FastifyServerOptions,
  type RawServerDefault,
} from 'fastify';
import {
  type FastifyPluginAsyncZod,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { authFailure, bearerToken, principalSchema, TokenError, TokenVerifier } from './auth.ts';
import type { Config } from './config.ts';
import { installHealth, type ReadinessCheck } from './health.ts';
import {
  clientErrorHandler,
  frameworkErrors,
  jsonBodyParser,
  refuseContentEncoding,
  requestTimeouts,
} from './http-input.ts';
import { installMetrics } from './metrics.ts';
import {
  API_CONTACT,
  API_LICENSE,
  API_SERVERS,
  OPERATIONS_TAG,
  type OpenApiTag,
  openApiTransform,
  problemComponent,
} from './openapi.ts';
import { notFound, ProblemError, sendProblem, toProblem } from './problem.ts';
import { RevocationList } from './revocations.ts';

/** The Fastify instance every service plugin receives: routes are typed from their zod schemas. */
export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** A service plugin: `export const membership = zodPlugin(async (app) => { app.post(…) })`. */
export type ZodPlugin<Options extends FastifyPluginOptions = Record<never, never>> =
  FastifyPluginAsyncZod<Options>;
export function zodPlugin<Options extends FastifyPluginOptions = Record<never, never>>(
  plugin: ZodPlugin<Options>,
): ZodPlugin<Options> {
  return plugin;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** Throws when the app was created without an event store. */
    eventStore: EventStore;
    /** Null when REDIS_URL is not configured. */
    redis: Redis | null;
    metrics: Registry;
  }
}

export interface CreateAppOptions {
  readonly config: Config;
  /** Public key verifying bearer tokens (see `loadJwtKeys`). */
  readonly jwtPublicKey: KeyObject;
  /** `false` silences logs (tests); an object is merged into the pino options. Default: on, at LOG_LEVEL. */
  readonly logger?: boolean | Record<string, unknown>;
  readonly eventStore?: EventStore;
  /** Shared with the rate limiter (counters in Redis) and checked by /health/ready. Not closed by the app. */
  readonly redis?: Redis;
  /**
   * Revoked tokens (see `openStores`): read when the app is ready, then every
   * `revocationRefreshMs`. Not closed by the app.
   */
  readonly revocations?: RevocationStore;
  readonly revocationRefreshMs?: number;
  /** Extra readiness checks by name: reject when the dependency is down. */
  readonly readiness?: Record<string, ReadinessCheck>;
  /** OpenAPI `info`. */
  readonly title?: string;
  /** The tags of the services mounted, declared at the top of the OpenAPI document. */
  readonly tags?: readonly OpenApiTag[];
  readonly version?: string;
}

const REQUEST_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

function incomingRequestId(req: IncomingMessage): string {
  for (const name of ['x-request-id', 'x-correlation-id']) {
    const value = req.headers[name];
    // Only ids that cannot forge log lines or headers are honoured.
    if (typeof value === 'string' && REQUEST_ID.test(value)) return value;
  }
  return randomUUID();
}

const DOCS_PREFIX = '/docs';

/**
 * What an answer no browser renders (JSON, problem+json, NDJSON, CSV) needs, as OWASP's REST
 * security guidance lists it: no sniffing it into HTML, no framing, nothing it may load. The
 * dozen headers guarding a rendered page would be some 700 bytes more on every answer, more than
 * a stage read's whole body.
 */
const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-resource-policy': 'same-origin',
};

function loggerOptions(options: CreateAppOptions): FastifyServerOptions['logger'] {
  if (options.logger === false) return false;
  return {
    level: options.config.LOG_LEVEL,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'authorization',
        'token',
        '*.token',
        'password',
        '*.password',
      ],
      censor: '[redacted]',
    },
    ...(typeof options.logger === 'object' ? options.logger : {}),
  };
}

/**
 * The shared HTTP shell: logging with request ids, zod validation and serialization, OpenAPI
 * 3.1 at /docs/json with a page at /docs, problem+json errors, security headers, rate limits,
 * bearer authentication, health, metrics and GET /v1/me. Callers register their service
 * plugins on the returned app, then `ready()` or `listen()` it.
 */
export async function createApp(options: CreateAppOptions): Promise<App> {
  const { config } = options;
  const app = Fastify({
    logger: loggerOptions(options),
    genReqId: incomingRequestId,
    requestIdHeader: false,
    bodyLimit: config.BODY_LIMIT,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: requestTimeouts(config.REQUEST_TIMEOUT_MS),
    clientErrorHandler,
    frameworkErrors,
    return503OnClosing: true,
    trustProxy: typeof config.TRUST_PROXY === 'boolean' ? config.TRUST_PROXY : config.TRUST_PROXY.join(','),
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.decorate('config', config);
  app.decorate('redis', options.redis ?? null);
  const store = options.eventStore;
  app.decorate('eventStore', {
    getter(): EventStore {
      if (!store) throw new Error('this app was created without an event store');
      return store;
    },
  });

  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: problem.code, status: problem.status }, 'request refused');
    if (problem.status === 401 && !problem.headers['www-authenticate']) {
      problem.withHeaders({ 'www-authenticate': 'Bearer realm="ptce-ledger"' });
    }
    return sendProblem(reply, request, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, request, notFound(`No route ${request.method} ${request.url.split('?')[0]}.`)),
  );
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser);
  app.addHook('preParsing', refuseContentEncoding);

  if (options.redis) {
    const redis = options.redis;
    // An unhandled 'error' event would crash nothing but would print to stderr on every retry.
    redis.on('error', (err: Error) => app.log.warn({ err: err.message }, 'redis error'));
    if (redis.status === 'wait') {
      await redis
        .connect()
        .catch((err: Error) => app.log.warn({ err: err.message }, 'redis not reachable at start'));
    }
  }

  // helmet's headers, worked out once: they depend on nothing in the request (no CSP nonce), and
  // running its dozen middlewares on every request cost more than a cached read's whole answer
  // (@fastify/helmet even built helmet again per request, parsing the CSP directives each time).
  // Its full set guards pages a browser renders (the docs, the funders' report).
  const documentHeaders = staticHeadersOf(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          // Swagger UI's bundled page uses inline styles and data: images; nothing is loaded from elsewhere.
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          scriptSrc: ["'self'"],
          // The server speaks plain HTTP on 127.0.0.1 by default: upgrading would break /docs there.
          upgradeInsecureRequests: null,
        },
      },
    }),
  );
  // One synchronous hook for the headers every answer carries: each hook of the chain costs a turn.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    reply.headers(request.routeOptions.config?.document ? documentHeaders : API_SECURITY_HEADERS);
    done();
  });

  await app.register(rateLimit, {
    // Not per route: the plugin's per-route hooks run after the app's own, so a request without a
    // valid token was refused by authentication before it was ever counted, and every forged token
    // cost a full signature verification. One app-level hook, added before authentication, counts
    // every request of a client address — unknown routes and bad tokens included.
    global: false,
    max: config.RATE_LIMIT_MAX,
    timeWindow: 60_000,
    ...(options.redis ? { redis: options.redis, nameSpace: 'ptce-rate-limit:' } : {}),
    // Counters are expendable: a Redis outage must not turn into refused requests.
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      new ProblemError(429, 'rate_limited', `Too many requests; retry in ${context.after}.`, {
        limit: context.max,
      }),
  });
  const limitClient = app.rateLimit();
  app.addHook('onRequest', async (request, reply) => {
    // Health and metrics are polled by orchestrators and scrapers: they must never be refused.
    if (request.routeOptions.config?.rateLimit === false) return;
    await limitClient.call(app, request, reply);
  });

  // Swagger UI registers its own routes; mark them public before they are added.
  app.addHook('onRoute', (route) => {
    if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) {
      route.config = { ...(route.config ?? {}), public: true, document: true };
    }
  });

  const revocations = options.revocations
    ? new RevocationList(options.revocations, {
        log: app.log,
        ...(options.revocationRefreshMs === undefined ? {} : { refreshMs: options.revocationRefreshMs }),
      })
    : undefined;
  if (revocations) {
    app.addHook('onReady', async () => {
      await revocations.refresh();
      revocations.start();
    });
    app.addHook('onClose', async () => revocations.stop());
  }
  const tokens = new TokenVerifier(
    options.jwtPublicKey,
    config,
    undefined,
    undefined,
    revocations && ((jti) => revocations.has(jti)),
  );
  app.addHook('onRequest', async (request) => {
    if (request.is404 || request.routeOptions.config.public) return;
    const token = bearerToken(request);
    if (token === null) throw authFailure('no Authorization header');
    if (token === '') throw authFailure('the Authorization header is not "Bearer <token>"');
    try {
      request.principal = await tokens.verify(token);
    } catch (err) {
      if (err instanceof TokenError) throw authFailure(err.message);
      throw err;
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: options.title ?? 'PTCE Ledger API',
        description: 'Event-sourced governance ledger for French PTCE. Errors are RFC 9457 problem+json.',
        version: options.version ?? '1.0.0',
        contact: { ...API_CONTACT },
        license: { ...API_LICENSE },
      },
      servers: API_SERVERS.map((server) => ({ ...server })),
      tags: [OPERATIONS_TAG, ...(options.tags ?? [])].map((tag) => ({ ...tag })),
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        schemas: problemComponent(),
      },
      security: [{ bearerAuth: [] }],
    },
    transform: openApiTransform(),
  });
  // Its own CSP would upgrade every request to HTTPS, which breaks /docs on plain HTTP at 127.0.0.1:
  // the page gets the app's document headers instead.
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: false });

  app.decorate('metrics', installMetrics(app));
  installHealth(app, {
    eventStore: store,
    redis: options.redis,
    readiness: {
      ...(revocations ? { revocations: () => revocations.check() } : {}),
      ...options.readiness,
    },
  });

  app.get(
    '/v1/me',
    {
      schema: {
        operationId: 'getMe',
        summary: 'The caller, as the token says',
        description:
          "The token's subject, role and PTCE scope, as this server reads them: what a client checks before acting on a caller's behalf.",
        tags: [OPERATIONS_TAG.name],
        response: { 200: principalSchema },
      },
    },
    async (request) => ({ ...request.principal, ptces: [...request.principal.ptces] }),
  );

  return app;
}

/**
 * The headers a connect-style middleware sets on a response that does not depend on the request:
 * run once on a stand-in response that records them.
 */
function staticHeadersOf(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void,
): Record<string, string> {
  const headers: Record<string, string> = {};
  let failed: unknown;
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return recorder;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader(name: string) {
      return headers[name.toLowerCase()];
    },
  };
  middleware(
    { headers: {}, method: 'GET', url: '/' } as IncomingMessage,
    recorder as unknown as ServerResponse,
    (err) => {
      failed = err;
    },
  );
  if (failed) throw failed;
  return headers;
}
