import fs from 'node:fs';
import { createRequire } from 'node:module';
import { createPtceClient, type PtceClient } from '@ptce/client';
import type { Send } from '@ptce/testing';

/** A typed client of the server at `baseUrl`, for a token as `Bearer <jwt>` or the bare JWT. */
export function clientAt(baseUrl: string, authorization: string): PtceClient {
  return createPtceClient({ baseUrl, token: authorization.replace(/^Bearer /, '') });
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
 */
export function httpSender(baseUrl: (path: string) => string, authorization: string): Send {
  const clients = new Map<string, PtceClient>();
  return async ({ method, path, body }) => {
    const base = baseUrl(path);
    let client = clients.get(base);
    if (!client) {
      client = clientAt(base, authorization);
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
