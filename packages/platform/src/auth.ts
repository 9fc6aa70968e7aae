import { type KeyObject, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { compactVerify, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { type Config, parseTtl } from './config.ts';
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

// What could disguise who recorded an event (`sub` becomes its `recordedBy`): control characters
// (NUL, escapes, newlines), format characters (bidirectional overrides and isolates, zero-width
// spaces and joiners, the BOM), line and paragraph separators, and lone surrogates.
const DECEPTIVE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** False when a subject holds a character that would hide or disguise it in a stored event. */
export function isPrintableSubject(sub: string): boolean {
  return !DECEPTIVE.test(sub);
}

export const principalSchema = z.object({
  sub: z.string().min(1).max(200).refine(isPrintableSubject, {
    message: 'control, format and invisible characters are not allowed',
  }),
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
    /** A page a browser renders (docs, report): it gets the full set of security headers. */
    document?: boolean;
  }
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
}

export type AuthConfig = Pick<Config, 'JWT_ALG' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'JWT_MAX_TTL'>;

/** How far the minting machine's clock may run ahead of ours, for `iat` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 60;

// The compact form has exactly one spelling per token: unpadded base64url, no stray characters,
// zero trailing bits. Anything else is another string for the same signature — a cache key, a
// log line or a revocation that does not match the token it stands for.
const SEGMENT = /^[A-Za-z0-9_-]+$/;
function isCanonicalCompact(token: string): boolean {
  const parts = token.split('.');
  return (
    parts.length === 3 &&
    parts.every((part) => SEGMENT.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part)
  );
}

const JTI = /^[\x21-\x7e]{1,200}$/;

interface VerifiedToken {
  readonly principal: Principal;
  readonly jti: string | undefined;
  /** Seconds since the epoch. */
  readonly exp: number;
  readonly nbf: number | undefined;
}

async function verifyJwt(
  token: string,
  publicKey: KeyObject,
  config: AuthConfig,
  nowMs: number,
): Promise<VerifiedToken> {
  if (!isCanonicalCompact(token)) throw new TokenError('malformed token');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, publicKey, {
      algorithms: [config.JWT_ALG],
      issuer: config.JWT_ISSUER,
      ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
      requiredClaims: ['exp', 'iss', 'sub'],
      currentDate: new Date(nowMs),
      // For `nbf`; jose would grant `exp` the same tolerance, so expiry is checked again below.
      clockTolerance: CLOCK_SKEW_SECONDS,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('token expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed)
      throw new TokenError(`claim ${err.claim}: ${err.reason}`);
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new TokenError('algorithm not allowed');
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('bad signature');
    throw new TokenError('malformed token');
  }
  // jose has checked that exp is present and that exp, iat and nbf are numbers when present.
  const exp = payload.exp as number;
  const now = Math.floor(nowMs / 1000);
  if (exp <= now) throw new TokenError('token expired');
  if (payload.iat !== undefined && payload.iat > now + CLOCK_SKEW_SECONDS) {
    throw new TokenError('claim iat: in the future');
  }
  if (config.JWT_AUDIENCE === undefined && payload.aud !== undefined) {
    throw new TokenError('claim aud: unexpected (this deployment expects no audience)');
  }
  if (exp - (payload.iat ?? now) > config.JWT_MAX_TTL) {
    throw new TokenError('claim exp: lifetime above JWT_MAX_TTL');
  }
  if (payload.jti !== undefined && (typeof payload.jti !== 'string' || !JTI.test(payload.jti))) {
    throw new TokenError('invalid claims: jti');
  }
  const claims = principalSchema.safeParse(payload);
  if (!claims.success) {
    const fields = [...new Set(claims.error.issues.map((i) => String(i.path[0] ?? 'claims')))];
    throw new TokenError(`invalid claims: ${fields.join(', ')}`);
  }
  return { principal: claims.data, jti: payload.jti, exp, nbf: payload.nbf };
}

/**
 * Verifies the compact form, signature, algorithm, `iss`, `aud`, `exp`, `iat` and `nbf` (these
 * two within CLOCK_SKEW_SECONDS), the lifetime against JWT_MAX_TTL, then the shape of our
 * claims. Revocation is the caller's: see TokenVerifier.
 */
export async function verifyToken(
  token: string,
  publicKey: KeyObject,
  config: AuthConfig,
  now: number = Date.now(),
): Promise<Principal> {
  return (await verifyJwt(token, publicKey, config, now)).principal;
}

/**
 * What `ptce token revoke` needs of a token: its `jti` and `exp`, once its signature shows it is
 * one of ours. Expiry is not checked: an expired token needs no revocation, which the caller
 * says.
 */
export async function revocationTarget(
  token: string,
  publicKey: KeyObject,
  config: Pick<Config, 'JWT_ALG'>,
): Promise<{ readonly jti: string; readonly exp: number }> {
  if (!isCanonicalCompact(token)) throw new TokenError('malformed token');
  let payload: JWTPayload;
  try {
    const { payload: bytes } = await compactVerify(token, publicKey, { algorithms: [config.JWT_ALG] });
    payload = JSON.parse(new TextDecoder().decode(bytes)) as JWTPayload;
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('bad signature');
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new TokenError('algorithm not allowed');
    throw new TokenError('malformed token');
  }
  if (typeof payload !== 'object' || payload === null) throw new TokenError('malformed token');
  if (typeof payload.jti !== 'string' || !JTI.test(payload.jti)) {
    throw new TokenError('the token has no jti (minted before revocation existed): it cannot be revoked');
  }
  if (typeof payload.exp !== 'number') throw new TokenError('the token has no exp');
  return { jti: payload.jti, exp: payload.exp };
}

/**
 * Verifies each distinct token once and remembers the result until the token expires: an
 * EdDSA verification costs more than the rest of a small write, and a secretary's client sends
 * the same token with every request. Only successes are kept, keyed by the whole token string
 * (so a forged variant never hits, and only the canonical spelling is ever verified), and a hit
 * past `exp` is verified again (and refused). Revocation is asked on every request, hit or not,
 * so a remembered token is refused as soon as `isRevoked` knows its jti.
 */
export class TokenVerifier {
  private readonly verified = new Map<
    string,
    { principal: Principal; jti: string | undefined; expiresAt: number; notBefore: number }
  >();

  constructor(
    private readonly publicKey: KeyObject,
    private readonly config: AuthConfig,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
    private readonly isRevoked: (jti: string) => boolean = () => false,
  ) {}

  async verify(token: string): Promise<Principal> {
    const now = this.now();
    let entry = this.verified.get(token);
    if (entry && !(now < entry.expiresAt && now >= entry.notBefore)) {
      this.verified.delete(token);
      entry = undefined;
    }
    if (!entry) {
      const { principal, jti, exp, nbf } = await verifyJwt(token, this.publicKey, this.config, now);
      entry = {
        principal,
        jti,
        expiresAt: exp * 1000,
        // The same tolerance as the verification, or a token accepted early would never hit.
        notBefore: nbf === undefined ? Number.NEGATIVE_INFINITY : (nbf - CLOCK_SKEW_SECONDS) * 1000,
      };
      if (this.verified.size >= this.maxEntries) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, entry);
    }
    if (entry.jti !== undefined && this.isRevoked(entry.jti)) throw new TokenError('token revoked');
    return entry.principal;
  }
}

// Kept where it was first exported; it lives in config.ts, which parses JWT_MAX_TTL with it.
export { parseTtl } from './config.ts';

export interface MintInput extends Principal {
  /** Seconds, or a duration such as `30d`; at most JWT_MAX_TTL. */
  readonly ttl: number | string;
  /** Default: a random UUID, the handle `ptce token revoke` takes. */
  readonly jti?: string;
}

export async function mintToken(
  input: MintInput,
  privateKey: KeyObject,
  config: AuthConfig,
): Promise<string> {
  const principal = principalSchema.parse({ sub: input.sub, role: input.role, ptces: input.ptces });
  const ttl = typeof input.ttl === 'number' ? input.ttl : parseTtl(input.ttl);
  if (ttl === null || !Number.isInteger(ttl) || ttl <= 0) throw new Error(`invalid ttl: ${input.ttl}`);
  if (ttl > config.JWT_MAX_TTL) {
    throw new Error(`ttl ${ttl}s is above JWT_MAX_TTL (${config.JWT_MAX_TTL}s): no verifier would accept it`);
  }
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ role: principal.role, ptces: principal.ptces })
    .setProtectedHeader({ alg: config.JWT_ALG, typ: 'JWT' })
    .setSubject(principal.sub)
    .setIssuer(config.JWT_ISSUER)
    .setJti(input.jti ?? randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + ttl);
  if (config.JWT_AUDIENCE !== undefined) jwt = jwt.setAudience(config.JWT_AUDIENCE);
  return jwt.sign(privateKey);
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  // RFC 6750's b64token, wider than a JWT's alphabet on purpose: `=`, `+`, `/` and `~` reach the
  // verifier, which answers `malformed token` instead of "not Bearer <token>".
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/** The caller's principal; a route behind the auth hook always has one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

/** A request's principal, or a principal already known (a line of an import acts as its request). */
const callerOf = (caller: FastifyRequest | Principal): Principal =>
  'role' in caller && 'sub' in caller ? caller : principalOf(caller);

export function requireRole(caller: FastifyRequest | Principal, ...roles: Role[]): Principal {
  const principal = callerOf(caller);
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

export function requirePtceScope(caller: FastifyRequest | Principal, ptceId: string): Principal {
  const principal = callerOf(caller);
  if (!inScope(principal, ptceId)) {
    throw forbidden(`The PTCE ${ptceId} is outside the token's scope.`, 'out_of_scope');
  }
  return principal;
}

export function authFailure(reason: string): ProblemError {
  return unauthorized(`A valid bearer token is required: ${reason}.`, 'unauthorized');
}
