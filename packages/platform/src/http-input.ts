import { type ServerOptions, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import {
  PROBLEM_CONTENT_TYPE,
  ProblemError,
  problemBody,
  sendProblem,
  toProblem,
  validationFailed,
} from './problem.ts';

/**
 * Node's http server options bounding how long a request may take to arrive, body included.
 * They must be given when the server is created: Fastify sets `requestTimeout` on the server
 * afterwards, too late for the headers timeout Node derives from it (60 s then), and Node checks
 * the deadlines only every `connectionsCheckingInterval` (30 s by default), so a request dripping
 * one byte a second was answered after 90 s under a 3 s limit.
 */
export function requestTimeouts(requestTimeoutMs: number): ServerOptions {
  // 0 means no limit on the whole request; the headers still get Node's own minute.
  const headersTimeout = requestTimeoutMs === 0 ? 60_000 : requestTimeoutMs;
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout,
    // A tenth of the limit late at most, without waking up more than ten times a second.
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 10))),
  };
}

/** What Node's http parser refused before Fastify saw a request, as the problem to answer. */
function clientProblem(err: NodeJS.ErrnoException & { reason?: unknown }): ProblemError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new ProblemError(408, 'request_timeout', 'The request did not arrive in time, body included.');
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new ProblemError(431, 'headers_too_large', 'The request headers are too large.');
  }
  // The parser's reason describes the request ("Invalid header value char"), never the server.
  const reason = typeof err.reason === 'string' ? `: ${err.reason}` : '';
  return new ProblemError(400, 'malformed_request', `The request is not valid HTTP${reason}.`, {
    parserCode: err.code,
  });
}

interface InFlight {
  readonly headersSent?: boolean;
  readonly req?: { readonly url?: string };
}

/**
 * Fastify's `clientErrorHandler`: timeouts, oversized headers and requests Node's parser cannot
 * read are answered in problem+json like every other error, on the raw socket (there is no
 * reply object yet, sometimes no request).
 */
export function clientErrorHandler(
  this: { log: FastifyBaseLogger },
  err: NodeJS.ErrnoException,
  socket: Socket,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const problem = clientProblem(err);
  this.log.info({ code: problem.code, status: problem.status, parserCode: err.code }, 'request refused');
  // A request already being answered (a timeout while its handler runs) cannot get another
  // answer on the same socket: writing one would corrupt the first.
  const inFlight = (socket as Socket & { _httpMessage?: InFlight })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(
      problemBody(problem.status, problem.code, problem.detail, inFlight?.req?.url ?? '', problem.extra),
    );
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Fastify's `frameworkErrors`: a URL it cannot decode, a parameter too long. */
export function frameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const problem = toProblem(error);
  request.log.info({ code: problem.code, status: problem.status }, 'request refused');
  void sendProblem(reply, request, problem);
}

/**
 * We do not accept compressed bodies: one labelled gzip or br was read as the JSON it is not, or
 * accepted as the plain JSON its label denies. Only `identity` (or no header) passes. A
 * preParsing hook, in the callback form: no promise per request on the write path.
 */
export function refuseContentEncoding(
  request: FastifyRequest,
  _reply: FastifyReply,
  _payload: unknown,
  done: (err: Error | null) => void,
): void {
  const header = request.headers['content-encoding'];
  if (header === undefined) {
    done(null);
    return;
  }
  const codings = String(header)
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '');
  if (codings.every((coding) => coding === 'identity')) {
    done(null);
    return;
  }
  done(
    new ProblemError(
      415,
      'unsupported_content_encoding',
      `Content-Encoding ${JSON.stringify(String(header))} is not accepted: send the body uncompressed (identity).`,
      { errors: [{ path: 'content-encoding', message: 'only identity is accepted', in: 'headers' }] },
    ).withHeaders({ 'accept-encoding': 'identity' }),
  );
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

function colonsIn(text: string): number {
  let count = 0;
  for (let at = text.indexOf(':'); at !== -1; at = text.indexOf(':', at + 1)) count += 1;
  return count;
}

/**
 * The colons a text without duplicate keys holds for this parsed value: one after each key, plus
 * those inside its keys and strings; -1 when a key is forbidden. Iterative: depth is the client's.
 */
function expectedColons(value: unknown): number {
  let count = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      count += colonsIn(next);
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const key of Object.keys(next)) {
        if (FORBIDDEN_KEYS.has(key)) return -1;
        count += 1 + colonsIn(key);
        pending.push((next as Record<string, unknown>)[key]);
      }
    }
  }
  return count;
}

/** Index just past the string opening at `start` (a quote) of valid JSON. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    let backslash = quote - 1;
    while (text.charCodeAt(backslash) === 0x5c) backslash -= 1;
    if ((quote - 1 - backslash) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

interface KeyProblem {
  readonly path: string;
  readonly message: string;
}

function pathTo(frames: readonly { at: string | number }[], key: string): string {
  return [...frames.slice(0, -1).map((frame) => String(frame.at)), key].join('.');
}

/**
 * The first key given twice in one object, or forbidden, with its path: one pass over text
 * JSON.parse already accepted. Iterative, like `expectedColons`.
 */
function firstKeyProblem(text: string): KeyProblem | null {
  // One frame per open object (its keys so far) or array (keys null); `at` is where in it we are.
  const frames: { keys: Set<string> | null; at: string | number }[] = [];
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    const top = frames[frames.length - 1];
    if (code === 0x22) {
      const end = stringEnd(text, i);
      let next = end;
      while (isSpace(text.charCodeAt(next))) next += 1;
      if (top?.keys && text.charCodeAt(next) === 0x3a) {
        const raw = text.slice(i, end);
        // "\u006eame" and "name" are one key.
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (FORBIDDEN_KEYS.has(key)) {
          return {
            path: pathTo(frames, key),
            message: 'forbidden field: __proto__ and constructor are never accepted',
          };
        }
        if (top.keys.has(key)) {
          return { path: pathTo(frames, key), message: 'given more than once in the same object' };
        }
        top.keys.add(key);
        top.at = key;
        i = next + 1;
      } else {
        i = end;
      }
      continue;
    }
    if (code === 0x7b) frames.push({ keys: new Set(), at: '' });
    else if (code === 0x5b) frames.push({ keys: null, at: 0 });
    else if (code === 0x7d || code === 0x5d) frames.pop();
    else if (code === 0x2c && top && top.keys === null) top.at = (top.at as number) + 1;
    i += 1;
  }
  return null;
}

/**
 * The application/json body. JSON.parse keeps the last of two equal keys, silently; and
 * Fastify's own parser answered `__proto__` or `constructor` as "not valid JSON", naming no
 * field. Both are refused here, naming the key. The exact scan runs only when the body could
 * hold either: every colon of a JSON text follows a key or sits in a string, so a text with no
 * more colons than the parsed value accounts for has lost no key to a duplicate — unless a
 * `\u` escape hides a colon, which sends the body to the scan too.
 */
export function parseJsonText(body: string): unknown {
  // Fastify's parser ignored a leading byte order mark; clients rely on it.
  const text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  if (text.length === 0) throw new ProblemError(400, 'malformed_body', 'The JSON body is empty.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProblemError(400, 'malformed_body', 'The body is not valid JSON.');
  }
  const expected = expectedColons(value);
  if (expected >= 0 && !text.includes('\\u') && colonsIn(text) === expected) return value;
  const problem = firstKeyProblem(text);
  if (problem) throw validationFailed([{ ...problem, in: 'body' }]);
  return value;
}

/** `parseJsonText` as Fastify's content-type parser (the callback form: no promise per body). */
export function jsonBodyParser(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  let value: unknown;
  try {
    value = parseJsonText(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    done(err as Error);
    return;
  }
  done(null, value);
}
