import type { KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { Config } from './config.ts';
import { forbidden, type ProblemError, unauthorized } from './problem.ts';

export const ROLES = ['admin', 'secretary', 'auditor', 'funder'] as const;
export type Role = (typeof ROLES)[number];

export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface Principal {
  readonly sub: string;
  readonly role: Role;
  /** PTCE ids in scope, or `['*']` for all. */
  readonly ptces: readonly string[];
}

export const principalSchema = z.object({
  sub: z.string().min(1).max(200),
  role: z.enum(ROLES),
  ptces: z
    .array(z.string())
    .min(1)
    .max(1000)
    .refine((ids) => (ids.length === 1 && ids[0] === '*') || ids.every((id) => SLUG.test(id)), {
      message: 'expected ["*"] or a list of PTCE slugs',
    }),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every non-public route. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** No token required (health, metrics, docs). */
    public?: boolean;
  }
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
}

type AuthConfig = Pick<Config, 'JWT_ALG' | 'JWT_ISSUER'>;

/** Verifies signature, algorithm, `iss` and `exp`, then the shape of our claims. */
export async function verifyToken(
  token: string,
  publicKey: KeyObject,
  config: AuthConfig,
): Promise<Principal> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, publicKey, {
      algorithms: [config.JWT_ALG],
      issuer: config.JWT_ISSUER,
      requiredClaims: ['exp', 'iss', 'sub'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('token expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed)
      throw new TokenError(`claim ${err.claim}: ${err.reason}`);
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new TokenError('algorithm not allowed');
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('bad signature');
    throw new TokenError('malformed token');
  }
  const claims = principalSchema.safeParse(payload);
  if (!claims.success) {
    const fields = [...new Set(claims.error.issues.map((i) => String(i.path[0] ?? 'claims')))];
    throw new TokenError(`invalid claims: ${fields.join(', ')}`);
  }
  return claims.data;
}

/**
 * Verifies each distinct token once and remembers the result until the token expires: an
 * EdDSA verification costs more than the rest of a small write, and a secretary's client sends
 * the same token with every request. Only successes are kept, keyed by the whole token string
 * (so a forged variant never hits), and a hit past `exp` is verified again (and refused).
 */
export class TokenVerifier {
  private readonly verified = new Map<
    string,
    { principal: Principal; expiresAt: number; notBefore: number }
  >();

  constructor(
    private readonly publicKey: KeyObject,
    private readonly config: AuthConfig,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(token: string): Promise<Principal> {
    const hit = this.verified.get(token);
    const now = this.now();
    if (hit && now < hit.expiresAt && now >= hit.notBefore) return hit.principal;
    if (hit) this.verified.delete(token);
    const principal = await verifyToken(token, this.publicKey, this.config);
    const { exp, nbf } = decodeJwt(token);
    if (typeof exp === 'number') {
      if (this.verified.size >= this.maxEntries) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, {
        principal,
        expiresAt: exp * 1000,
        notBefore: typeof nbf === 'number' ? nbf * 1000 : Number.NEGATIVE_INFINITY,
      });
    }
    return principal;
  }
}

const TTL = /^(\d+)(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** `30d`, `12h`, `15m`, `90s` → seconds; null when not of that form or zero. */
export function parseTtl(ttl: string): number | null {
  const match = TTL.exec(ttl);
  if (!match) return null;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : null;
}

export interface MintInput extends Principal {
  /** Seconds, or a duration such as `30d`. */
  readonly ttl: number | string;
}

export async function mintToken(
  input: MintInput,
  privateKey: KeyObject,
  config: AuthConfig,
): Promise<string> {
  const principal = principalSchema.parse({ sub: input.sub, role: input.role, ptces: input.ptces });
  const ttl = typeof input.ttl === 'number' ? input.ttl : parseTtl(input.ttl);
  if (ttl === null || !Number.isInteger(ttl) || ttl <= 0) throw new Error(`invalid ttl: ${input.ttl}`);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: principal.role, ptces: principal.ptces })
    .setProtectedHeader({ alg: config.JWT_ALG, typ: 'JWT' })
    .setSubject(principal.sub)
    .setIssuer(config.JWT_ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(privateKey);
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/** The caller's principal; a route behind the auth hook always has one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

export function requireRole(request: FastifyRequest, ...roles: Role[]): Principal {
  const principal = principalOf(request);
  if (!roles.includes(principal.role)) {
    throw forbidden(
      `The role ${principal.role} may not do this (needs ${roles.join(' or ')}).`,
      'role_forbidden',
    );
  }
  return principal;
}

export function inScope(principal: Principal, ptceId: string): boolean {
  return principal.role === 'admin' || principal.ptces.includes('*') || principal.ptces.includes(ptceId);
}

export function requirePtceScope(request: FastifyRequest, ptceId: string): Principal {
  const principal = principalOf(request);
  if (!inScope(principal, ptceId)) {
    throw forbidden(`The PTCE ${ptceId} is outside the token's scope.`, 'out_of_scope');
  }
  return principal;
}

export function authFailure(reason: string): ProblemError {
  return unauthorized(`A valid bearer token is required: ${reason}.`, 'unauthorized');
}
