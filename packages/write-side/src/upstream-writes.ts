import { ProblemError, type Upstream } from '@ptce/platform';
import { REPLAYED_HEADER } from './headers.ts';
import type { ForwardLine, ImportLine } from './import.ts';

interface UpstreamRoute {
  readonly upstream: Upstream;
  readonly method: string;
  /** A fixed segment, or null where the OpenAPI path has a `{parameter}`. */
  readonly segments: readonly (string | null)[];
}

/** How long the routes read from the other services' documents are trusted before being read again. */
const ROUTES_REUSE_MS = 60_000;

/**
 * The write routes of the other services of a split deployment, read from the OpenAPI document
 * each one serves: which service owns a route is theirs to say, so a service added or moved
 * needs no table kept here. An import forwards each line no route of its own process owns to the
 * service that does, as the gateway would route it.
 */
export class UpstreamWrites {
  private routes: Promise<{ routes: UpstreamRoute[]; unreachable: string[] }> | undefined;
  private readAt = 0;

  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly timeoutMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  get configured(): boolean {
    return this.upstreams.length > 0;
  }

  /**
   * The write routes of every upstream that answers; one that does not is named, so that a line
   * no answering upstream owns is refused as unreachable rather than as unknown.
   */
  private async readRoutes(): Promise<{ routes: UpstreamRoute[]; unreachable: string[] }> {
    const read = await Promise.allSettled(
      this.upstreams.map(async (upstream) => {
        const response = await fetch(`${upstream.url}/docs/json`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (!response.ok) throw new Error(`${upstream.name} answered ${response.status} for its document`);
        const document = (await response.json()) as { paths?: Record<string, Record<string, unknown>> };
        return { upstream, paths: document.paths ?? {} };
      }),
    );
    const unreachable = this.upstreams
      .filter((_, i) => read[i]!.status === 'rejected')
      .map((upstream) => upstream.name);
    const routes = read.flatMap((result) => {
      if (result.status === 'rejected') return [];
      const { upstream, paths } = result.value;
      return Object.entries(paths).flatMap(([path, operations]) =>
        Object.keys(operations)
          .filter((method) => method === 'post' || method === 'patch')
          .map((method) => ({
            upstream,
            method: method.toUpperCase(),
            segments: path.split('/').map((part) => (/^\{[^}]+\}$/.test(part) ? null : part)),
          })),
      );
    });
    return { routes, unreachable };
  }

  private async owner(method: string, path: string): Promise<Upstream | undefined> {
    const stale = this.now() - this.readAt > ROUTES_REUSE_MS;
    if (!this.routes || stale) {
      this.readAt = this.now();
      this.routes = this.readRoutes();
    }
    const { routes, unreachable } = await this.routes;
    // An upstream that did not answer is asked again by the next line.
    if (unreachable.length > 0) this.routes = undefined;
    const parts = path.split('/');
    const candidates = routes.filter(
      (route) =>
        route.method === method &&
        route.segments.length === parts.length &&
        route.segments.every((fixed, i) => fixed === null || fixed === parts[i]),
    );
    // Fixed segments before parameters, as a router prefers them.
    candidates.sort(
      (a, b) => b.segments.filter((s) => s !== null).length - a.segments.filter((s) => s !== null).length,
    );
    const owner = candidates[0]?.upstream;
    if (!owner && unreachable.length > 0) {
      throw new ProblemError(
        503,
        'upstream_unavailable',
        `No service that answers owns ${method} ${path}, and ${unreachable.join(', ')} did not answer: send the file again shortly.`,
      ).withHeaders({ 'retry-after': '5' });
    }
    return owner;
  }

  /** Forwards lines as the caller's own requests: its token, its request id, the line's key. */
  forwarder(caller: { readonly authorization: string; readonly requestId: string }): ForwardLine {
    return async (line: ImportLine & { readonly idempotencyKey: string }) => {
      const upstream = await this.owner(line.method, line.path);
      if (!upstream) return undefined;
      const response = await fetch(upstream.url + line.path, {
        method: line.method,
        headers: {
          authorization: caller.authorization,
          'content-type': 'application/json',
          'idempotency-key': line.idempotencyKey,
          'x-request-id': caller.requestId,
        },
        body: JSON.stringify(line.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      let body: unknown = {};
      try {
        body = text === '' ? {} : JSON.parse(text);
      } catch {
        body = { detail: text.slice(0, 500) };
      }
      return { status: response.status, body, replayed: response.headers.get(REPLAYED_HEADER) === 'true' };
    };
  }
}
