import type { Send } from '@ptce/testing';

/** A `Send` over real HTTP, as a secretary's client would call the API. */
export function httpSender(baseUrl: (path: string) => string, authorization: string): Send {
  return async ({ method, path, body }) => {
    const response = await fetch(baseUrl(path) + path, {
      method,
      headers: { authorization, 'content-type': 'application/json' },
      body: body === null || body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}
