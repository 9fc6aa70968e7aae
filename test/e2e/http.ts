import fs from 'node:fs';
import { createRequire } from 'node:module';
import { createPtceClient, type PtceClient } from '@ptce/client';
import type { App } from '@ptce/platform';
import type { Send } from '@ptce/testing';

/** A typed client of the server at `baseUrl`, for a token as `Bearer <jwt>` or the bare JWT. */
export function clientAt(
  baseUrl: string,
  authorization: string,
  fetch?: (request: Request) => Promise<Response>,
): PtceClient {
  return createPtceClient({
    baseUrl,
    token: authorization.replace(/^Bearer /, ''),
    ...(fetch ? { fetch } : {}),
  });
}

/**
 * A fetch answered by `app.inject`, for the typed client against an app that never listens: the
 * request goes through the app's whole stack (hooks, auth, validation) without a socket.
 */
export function injectFetch(app: App): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const payload = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const reply = await app.inject({
      method: request.method as 'GET',
      url: url.pathname + url.search,
      headers: Object.fromEntries(request.headers),
      ...(payload === undefined ? {} : { payload }),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(reply.headers)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined) headers.append(name, String(one));
      }
    }
    // A Response refuses a body, even an empty one, on these statuses.
    const bodiless = [101, 204, 205, 304].includes(reply.statusCode);
    return new Response(bodiless ? null : reply.rawPayload, { status: reply.statusCode, headers });
  };
}

interface OpenApiDocument {
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

const document = JSON.parse(
  fs.readFileSync(createRequire(import.meta.url).resolve('@ptce/client/openapi.json'), 'utf8'),
) as OpenApiDocument;

interface DocumentedCall {
  readonly template: string;
  readonly path: Record<string, string>;
  readonly query: Record<string, string | string[]>;
}

interface Route {
  readonly template: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

const routesByMethod = new Map<string, Route[]>();
for (const [template, item] of Object.entries(document.paths)) {
  const names = [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '');
  const source = template
    .split(/\{\w+\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('([^/]+)');
  const route = { template, pattern: new RegExp(`^${source}$`), names };
  for (const method of Object.keys(item)) {
    routesByMethod.set(method, [...(routesByMethod.get(method) ?? []), route]);
  }
}

/**
 * The documented route a concrete request goes to, its path and query parameters taken apart so
 * the client puts them back. Where two templates match, the one with fewer parameters wins, as
 * the server's router prefers a literal segment. A request no template matches is an error: the
 * scenario then calls a route the document does not promise.
 */
export function documentedCall(method: string, url: string): DocumentedCall {
  const parsed = new URL(url, 'http://scenario.invalid');
  const route = (routesByMethod.get(method.toLowerCase()) ?? [])
    .filter(({ pattern }) => pattern.test(parsed.pathname))
    .sort((a, b) => a.names.length - b.names.length)[0];
  if (!route) throw new Error(`${method} ${parsed.pathname} is no route of the OpenAPI document`);
  const values = route.pattern.exec(parsed.pathname)?.slice(1) ?? [];
  const path = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(values[i] ?? '')]));
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(parsed.searchParams.keys())) {
    const all = parsed.searchParams.getAll(key);
    query[key] = all.length === 1 ? (all[0] ?? '') : all;
  }
  return { template: route.template, path, query };
}

// The scenario's requests are data read from JSON, so their route is known only at run time:
// `documentedCall` checks it against the document, and the client is called without its types.
type UntypedRequest = (
  method: string,
  template: string,
  init: {
    params: { path: Record<string, string>; query: Record<string, string | string[]> };
    body?: unknown;
  },
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

/**
 * A `Send` over real HTTP through the typed client, as a secretary's integration would call the
 * API; `baseUrl` picks the server of each path (one server, or a service of a split deployment).
 * With `fetch` (`injectFetch(app)`), the same requests without a socket.
 */
export function httpSender(
  baseUrl: (path: string) => string,
  authorization: string,
  fetch?: (request: Request) => Promise<Response>,
): Send {
  const clients = new Map<string, PtceClient>();
  return async ({ method, path, body }) => {
    const base = baseUrl(path);
    let client = clients.get(base);
    if (!client) {
      client = clientAt(base, authorization, fetch);
      clients.set(base, client);
    }
    const call = documentedCall(method, path);
    const request = client.request as unknown as UntypedRequest;
    const { data, error, response } = await request(method.toLowerCase(), call.template, {
      params: { path: call.path, query: call.query },
      ...(body === null || body === undefined ? {} : { body }),
    });
    // An empty answer reads as null, as the scenario's expectations were written against.
    const answer = response.ok ? data : error;
    return { status: response.status, body: answer === undefined || answer === '' ? null : answer };
  };
}
