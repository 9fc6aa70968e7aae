import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './schema.ts';

export type { components, operations, paths } from './schema.ts';

export type PtceClient = Client<paths>;

export interface PtceClientOptions {
  /** Where the server (or the gateway of a split deployment) answers, e.g. `http://127.0.0.1:3000`. */
  readonly baseUrl: string;
  /** A JWT as `ptce token` prints it, without the `Bearer ` prefix; none for the public routes. */
  readonly token?: string;
  /** A fetch of your own: a proxy agent, a test double, or an in-process transport. */
  readonly fetch?: (request: Request) => Promise<Response>;
}

/**
 * A client of every route of the OpenAPI document, typed by it: paths, parameters, bodies and
 * answers. The token goes in every request's `Authorization` header unless the call sets one
 * itself, so a single request can still be sent as another caller.
 */
export function createPtceClient({ baseUrl, token, fetch }: PtceClientOptions): PtceClient {
  const client = createClient<paths>({ baseUrl, ...(fetch ? { fetch } : {}) });
  if (token !== undefined) {
    const bearer: Middleware = {
      onRequest({ request }) {
        if (!request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}
