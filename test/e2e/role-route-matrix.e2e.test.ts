import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintToken, type Role } from '@ptce/platform';
import { clientFor, seedPtce, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/*
 * Every operation the standalone server documents, called by every role with a token scoped to
 * the PTCE of the request, by the same roles scoped to another PTCE, with no token and with a
 * forged one. What each caller should get is written down below from the contract's role table,
 * never read back from the server: a route the table does not place fails the test, so no new
 * route escapes it.
 */

interface Parameter {
  readonly name: string;
  readonly in: string;
  readonly required?: boolean;
}
interface MediaObject {
  readonly example?: unknown;
  readonly examples?: Readonly<Record<string, { readonly value?: unknown }>>;
  readonly schema?: { readonly examples?: unknown };
}
interface Operation {
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: { readonly content?: Readonly<Record<string, MediaObject>> };
}
interface OpenApiDocument {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type Method = Uppercase<(typeof HTTP_METHODS)[number]>;

/** Who may call a route: nobody needs a token, any valid token will do, or only these roles. */
type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'anyToken' }
  | { readonly kind: 'roles'; readonly roles: readonly Role[] };

interface AccessRule {
  readonly section: string;
  readonly methods: readonly Method[];
  /** A template as the document spells it, or a prefix ending in `/**` for everything under it. */
  readonly paths: readonly string[];
  readonly access: Access;
}

const WRITE_METHODS: readonly Method[] = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The role table of the contract. The first rule that matches decides, so an exception (erasure,
 * for admins only) comes before the section it sits in. Admins may do everything, whatever their
 * token's PTCE list says.
 */
const ACCESS_RULES: readonly AccessRule[] = [
  {
    section: 'Operations (no token)',
    methods: ['GET'],
    paths: ['/health/live', '/health/ready', '/.well-known/jwks.json', '/docs', '/docs/json', '/metrics'],
    access: { kind: 'public' },
  },
  {
    section: 'Operations (any valid token)',
    methods: ['GET'],
    paths: ['/v1/me'],
    access: { kind: 'anyToken' },
  },
  {
    section: 'Erasure of a natural person (admin)',
    methods: ['POST'],
    paths: ['/v1/ptces/{ptceId}/members/{organisationId}/erasure'],
    access: { kind: 'roles', roles: ['admin'] },
  },
  {
    section: 'Writes (secretary, admin)',
    methods: WRITE_METHODS,
    paths: ['/v1/ptces', '/v1/ptces/**'],
    access: { kind: 'roles', roles: ['secretary', 'admin'] },
  },
  {
    section: 'Reads (secretary, auditor, admin)',
    methods: ['GET'],
    paths: ['/v1/ptces', '/v1/ptces/**'],
    access: { kind: 'roles', roles: ['secretary', 'auditor', 'admin'] },
  },
  {
    section: 'Audit (auditor, admin)',
    methods: ['GET'],
    paths: ['/v1/audit/**'],
    access: { kind: 'roles', roles: ['auditor', 'admin'] },
  },
  {
    section: 'Snapshots (funder, secretary, auditor, admin)',
    methods: ['GET'],
    paths: ['/v1/snapshots', '/v1/snapshots/**'],
    access: { kind: 'roles', roles: ['funder', 'secretary', 'auditor', 'admin'] },
  },
];

function pathMatches(pattern: string, template: string): boolean {
  if (!pattern.endsWith('/**')) return pattern === template;
  return template.startsWith(pattern.slice(0, -2));
}

function ruleFor(method: Method, template: string): AccessRule | undefined {
  return ACCESS_RULES.find(
    (rule) => rule.methods.includes(method) && rule.paths.some((pattern) => pathMatches(pattern, template)),
  );
}

const ROLES: readonly Role[] = ['secretary', 'auditor', 'admin', 'funder'];
const PTCE = 'matrix-ptce';
const OTHER_PTCE = 'matrix-other';

interface Caller {
  readonly label: string;
  readonly role: Role | null;
  readonly inScope: boolean;
  readonly authorization: string | null;
}

/** A value that passes a path or query parameter's schema, so validation never answers first. */
const SAMPLE_VALUES: Readonly<Record<string, string>> = {
  organisationId: 'garage',
  from: '2020-01-01',
  to: '2021-01-01',
};
const sampleValue = (name: string) => SAMPLE_VALUES[name] ?? `sample-${name.toLowerCase()}`;

function firstExample(media: MediaObject | undefined): unknown {
  if (!media) return undefined;
  if (media.example !== undefined) return media.example;
  const [named] = Object.values(media.examples ?? {});
  if (named?.value !== undefined) return named.value;
  return Array.isArray(media.schema?.examples) ? media.schema.examples[0] : undefined;
}

interface Request {
  readonly url: string;
  /** Whether the request names a PTCE (in its path, or in its body when it registers one). */
  readonly namesPtce: boolean;
  readonly payload?: string;
  readonly contentType?: string;
}

/**
 * A request that passes the route's validation (the document's own example body, its required
 * query parameters filled in), so that what answers is authorization, never a 400 before it.
 */
function requestFor(template: string, operation: Operation): Request {
  let namesPtce = false;
  const pathname = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name !== 'ptceId') return sampleValue(name);
    namesPtce = true;
    return PTCE;
  });
  const query = new URLSearchParams();
  for (const parameter of operation.parameters ?? []) {
    if (parameter.in === 'query' && parameter.required)
      query.set(parameter.name, sampleValue(parameter.name));
  }
  const url = query.size > 0 ? `${pathname}?${query}` : pathname;
  const [contentType, media] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
  if (contentType === undefined) return { url, namesPtce };
  let example = firstExample(media) ?? {};
  if (typeof example === 'object' && example !== null && 'ptceId' in example) {
    example = { ...example, ptceId: PTCE };
    namesPtce = true;
  }
  const payload = typeof example === 'string' ? example : JSON.stringify(example);
  return { url, namesPtce, payload, contentType };
}

type Expectation =
  | { readonly outcome: 'ok' }
  | { readonly outcome: 'unauthorized' }
  | { readonly outcome: 'forbidden'; readonly codes: readonly string[] }
  | { readonly outcome: 'allowed' };

function expectationFor(access: Access, caller: Caller, request: Request): Expectation {
  if (access.kind === 'public') return { outcome: 'ok' };
  if (caller.role === null) return { outcome: 'unauthorized' };
  if (access.kind === 'anyToken') return { outcome: 'allowed' };
  const roleAllowed = access.roles.includes(caller.role);
  const scopeAllowed = caller.inScope || caller.role === 'admin' || !request.namesPtce;
  if (roleAllowed && scopeAllowed) return { outcome: 'allowed' };
  if (!roleAllowed && !scopeAllowed)
    return { outcome: 'forbidden', codes: ['role_forbidden', 'out_of_scope'] };
  return { outcome: 'forbidden', codes: [roleAllowed ? 'out_of_scope' : 'role_forbidden'] };
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly code: unknown;
}

/** Why the answer breaks the expectation, or null when it keeps it. */
function mismatch(expected: Expectation, answer: Answer): string | null {
  const got = `got ${answer.status}${typeof answer.code === 'string' ? ` ${answer.code}` : ''}`;
  switch (expected.outcome) {
    case 'ok':
      return answer.status === 200 ? null : `expected 200, ${got}`;
    case 'unauthorized':
      return answer.status === 401 && answer.code === 'unauthorized'
        ? null
        : `expected 401 unauthorized, ${got}`;
    case 'forbidden':
      return answer.status === 403 && expected.codes.includes(String(answer.code))
        ? null
        : `expected 403 ${expected.codes.join(' or ')}, ${got}`;
    case 'allowed':
      return answer.status === 401 || answer.status === 403 || answer.status >= 500
        ? `expected authorization to let it through (not 401, 403 or 5xx), ${got}: ${answer.body.slice(0, 200)}`
        : null;
    default: {
      const exhaustive: never = expected;
      return exhaustive;
    }
  }
}

interface DocumentedOperation {
  readonly method: Method;
  readonly template: string;
  readonly operation: Operation;
}

describe('the role × route matrix: every documented operation, every role, in and out of scope, and without a valid token', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-matrix-'));
  let server: TestServer;
  let operations: DocumentedOperation[];
  let callers: Caller[];

  beforeAll(async () => {
    server = await startTestServer({ EVENT_STORE_URL: `sqlite:${path.join(dataDir, 'ptce.db')}` });
    const docs = await server.app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    operations = Object.entries(docs.json<OpenApiDocument>().paths).flatMap(([template, item]) =>
      HTTP_METHODS.filter((method) => item[method] !== undefined).map((method) => ({
        method: method.toUpperCase() as Method,
        template,
        operation: item[method] as Operation,
      })),
    );
    // Both PTCE exist, so an allowed read answers on real state and a list has something to leak.
    const admin = clientFor(server, await server.bearer('admin'));
    await seedPtce(admin, PTCE);
    await seedPtce(admin, OTHER_PTCE);
    // An admin token of every scope, signed by a key that is not the deployment's: no better than none.
    const forged = await mintToken(
      { sub: 'forger', role: 'admin', ptces: ['*'], ttl: '1h' },
      generateKeyPairSync('ed25519').privateKey,
      server.config,
    );
    callers = [
      { label: 'no token', role: null, inScope: false, authorization: null },
      { label: 'a forged admin token', role: null, inScope: false, authorization: `Bearer ${forged}` },
    ];
    for (const role of ROLES) {
      callers.push(
        {
          label: `${role} of ${PTCE}`,
          role,
          inScope: true,
          authorization: await server.bearer(role, [PTCE]),
        },
        {
          label: `${role} of ${OTHER_PTCE}`,
          role,
          inScope: false,
          authorization: await server.bearer(role, [OTHER_PTCE]),
        },
      );
    }
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('every operation of the document falls under a row of the role table', () => {
    const unplaced = operations
      .filter(({ method, template }) => ruleFor(method, template) === undefined)
      .map(({ method, template }) => `${method} ${template}`);
    expect(unplaced, 'routes the role table does not place: add them to ACCESS_RULES').toEqual([]);
    // The contract's sections are all served; a row no route matches any more is a stale row.
    const used = new Set(operations.map(({ method, template }) => ruleFor(method, template)?.section));
    expect(ACCESS_RULES.map((rule) => rule.section).filter((section) => !used.has(section))).toEqual([]);
  });

  test('each caller gets what the role table gives it, on every operation', async () => {
    const mismatches: string[] = [];
    let calls = 0;
    for (const { method, template, operation } of operations) {
      const rule = ruleFor(method, template);
      if (!rule) continue;
      const request = requestFor(template, operation);
      for (const caller of callers) {
        const headers: Record<string, string> = {};
        if (caller.authorization !== null) headers.authorization = caller.authorization;
        if (request.contentType !== undefined) headers['content-type'] = request.contentType;
        const reply = await server.app.inject({
          method,
          url: request.url,
          headers,
          ...(request.payload === undefined ? {} : { payload: request.payload }),
        });
        calls += 1;
        const isProblem = String(reply.headers['content-type']).startsWith('application/problem+json');
        const answer = {
          status: reply.statusCode,
          body: reply.body,
          code: isProblem ? reply.json<{ code?: unknown }>().code : undefined,
        };
        const expected = expectationFor(rule.access, caller, request);
        const wrong = mismatch(expected, answer);
        if (wrong !== null)
          mismatches.push(`${method} ${request.url} as ${caller.label} [${rule.section}]: ${wrong}`);
        // A list answers out-of-scope callers with what is theirs only.
        if (
          expected.outcome === 'allowed' &&
          !request.namesPtce &&
          !caller.inScope &&
          caller.role !== 'admin'
        ) {
          if (reply.body.includes(`"${PTCE}"`)) {
            mismatches.push(`${method} ${request.url} as ${caller.label}: the answer names ${PTCE}`);
          }
        }
      }
    }
    expect(mismatches, `${mismatches.length} of ${calls} calls`).toEqual([]);
    expect(calls).toBe(operations.length * callers.length);
  });

  test('the public routes the document leaves out answer without a token', async () => {
    for (const url of ['/docs', '/docs/json', '/metrics']) {
      const reply = await server.app.inject({ method: 'GET', url });
      expect(reply.statusCode, url).toBeLessThan(400);
    }
  });
});
