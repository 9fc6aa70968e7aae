import { createHmac, generateKeyPairSync } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { App } from '../src/app.ts';
import { parseTtl, requirePtceScope, requireRole, verifyToken } from '../src/auth.ts';
import { keys, testApp, testConfig, token } from './helpers.ts';

const config = testConfig();
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function sign(
  payload: JWTPayload,
  options: {
    exp?: number | null;
    iss?: string | null;
    key?: Parameters<SignJWT['sign']>[0];
    alg?: string;
  } = {},
) {
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: options.alg ?? 'EdDSA' }).setIssuedAt();
  if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? now() + 600);
  if (options.iss !== null) jwt = jwt.setIssuer(options.iss ?? 'ptce-ledger');
  return jwt.sign(options.key ?? keys.privateKey);
}

const claims = { sub: 'alice', role: 'secretary', ptces: ['val-coop'] };

let app: App;
beforeAll(async () => {
  app = await testApp({ config });
  app.get(
    '/test/ptces/:ptceId',
    { schema: { params: z.object({ ptceId: z.string() }) } },
    async (request) => {
      requireRole(request as FastifyRequest, 'secretary', 'admin');
      requirePtceScope(request as FastifyRequest, request.params.ptceId);
      return { ok: true };
    },
  );
  await app.ready();
});
afterAll(() => app.close());

async function me(authorization?: string) {
  return app.inject({ url: '/v1/me', headers: authorization === undefined ? {} : { authorization } });
}

describe('bearer authentication', () => {
  test('a valid token gives the caller on /v1/me', async () => {
    const res = await me(`Bearer ${await token()}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(claims);
  });

  const failures: [string, () => Promise<string | undefined>, RegExp][] = [
    ['missing', async () => undefined, /no Authorization header/],
    ['another scheme', async () => 'Basic YWxpY2U6c2VjcmV0', /not "Bearer <token>"/],
    ['malformed', async () => 'Bearer not.a.jwt', /malformed/],
    ['expired', async () => `Bearer ${await sign(claims, { exp: now() - 10 })}`, /expired/],
    ['without exp', async () => `Bearer ${await sign(claims, { exp: null })}`, /exp/],
    ['with a wrong iss', async () => `Bearer ${await sign(claims, { iss: 'someone-else' })}`, /iss/],
    ['without iss', async () => `Bearer ${await sign(claims, { iss: null })}`, /iss/],
    ['without sub', async () => `Bearer ${await sign({ role: 'admin', ptces: ['*'] })}`, /sub/],
    [
      'with a forged signature',
      async () => `Bearer ${await sign(claims, { key: generateKeyPairSync('ed25519').privateKey })}`,
      /bad signature/,
    ],
    [
      'with alg none',
      async () =>
        `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: 'ptce-ledger', exp: now() + 60 })}.`,
      /algorithm not allowed|malformed/,
    ],
    [
      'HS256 signed with the public key as the secret',
      async () => {
        // The classic key-confusion attack: a verifier that trusts the header's alg would use
        // the public key it holds as the HMAC secret.
        const secret = keys.publicKey.export({ format: 'pem', type: 'spki' });
        const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ ...claims, iss: 'ptce-ledger', exp: now() + 60 })}`;
        return `Bearer ${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      },
      /algorithm not allowed/,
    ],
    [
      'with a bad role',
      async () => `Bearer ${await sign({ ...claims, role: 'root' })}`,
      /invalid claims: role/,
    ],
    [
      'with bad ptces',
      async () => `Bearer ${await sign({ ...claims, ptces: ['Not A Slug'] })}`,
      /invalid claims: ptces/,
    ],
    [
      'with empty ptces',
      async () => `Bearer ${await sign({ ...claims, ptces: [] })}`,
      /invalid claims: ptces/,
    ],
  ];

  test.each(failures)('a token %s is refused with 401 problem', async (_name, make, reason) => {
    const res = await me(await make());
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    const body = res.json();
    expect(body).toMatchObject({
      type: 'https://ptce-ledger.dev/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
      code: 'unauthorized',
      instance: '/v1/me',
    });
    expect(body.detail).toMatch(reason);
  });

  test('verifyToken pins the configured algorithm', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwt = await sign(claims, { alg: 'ES256', key: ec.privateKey });
    await expect(verifyToken(jwt, ec.publicKey, config)).rejects.toThrow(/algorithm not allowed/);
    await expect(verifyToken(jwt, ec.publicKey, { ...config, JWT_ALG: 'ES256' })).resolves.toEqual(claims);
  });
});

describe('role and scope', () => {
  const get = async (ptceId: string, input: Parameters<typeof token>[0]) =>
    app.inject({ url: `/test/ptces/${ptceId}`, headers: { authorization: `Bearer ${await token(input)}` } });

  test('a secretary reaches its own PTCE', async () => {
    expect((await get('val-coop', {})).statusCode).toBe(200);
  });
  test('a secretary is refused another PTCE', async () => {
    const res = await get('other', {});
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'out_of_scope', status: 403 });
  });
  test('an auditor is refused by role', async () => {
    const res = await get('val-coop', { role: 'auditor' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'role_forbidden' });
  });
  test('"*" and admin pass every scope', async () => {
    expect((await get('other', { ptces: ['*'] })).statusCode).toBe(200);
    expect((await get('other', { role: 'admin', ptces: ['val-coop'] })).statusCode).toBe(200);
  });
});

test('parseTtl', () => {
  expect(parseTtl('30d')).toBe(30 * 86400);
  expect(parseTtl('12h')).toBe(43200);
  expect(parseTtl('15m')).toBe(900);
  expect(parseTtl('90s')).toBe(90);
  expect(parseTtl('0d')).toBeNull();
  expect(parseTtl('1w')).toBeNull();
  expect(parseTtl('-1d')).toBeNull();
});
