import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { App } from '../src/app.ts';
import { mintToken, TokenVerifier, verifyToken } from '../src/auth.ts';
import { keys, testApp, testConfig, token } from './helpers.ts';

const now = () => Math.floor(Date.now() / 1000);
const claims = { sub: 'alice', role: 'secretary', ptces: ['val-coop'], iss: 'ptce-ledger' };
const DAY = 86400;

/** Signs exactly the claims given: no iat, exp or iss added behind the test's back. */
function sign(payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).sign(keys.privateKey);
}

const b64 = (bytes: Buffer) => bytes.toString('base64url');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same signature bytes, spelled with other trailing bits in its last character. */
function withTrailingBitsSet(jwt: string): string {
  const last = jwt.at(-1) as string;
  // 64 signature bytes are 86 characters: the last carries 2 bits of data and 4 bits of padding.
  const flipped = ALPHABET[ALPHABET.indexOf(last) ^ 0b0001] as string;
  return `${jwt.slice(0, -1)}${flipped}`;
}

/** A token spelled with `-` and `_`, so that their base64 twins `+` and `/` can be tried. */
async function tokenWithDashes(): Promise<string> {
  for (;;) {
    const jwt = await token();
    if (/[-_]/.test(jwt)) return jwt;
  }
}

describe('tokens a careful verifier refuses (hostile-test defect 9A)', () => {
  let app: App;
  let withAudience: App;
  beforeAll(async () => {
    app = await testApp({ config: testConfig({ JWT_MAX_TTL: '90d' }) });
    withAudience = await testApp({ config: testConfig({ JWT_AUDIENCE: 'ptce-api' }) });
  });
  afterAll(async () => {
    await app.close();
    await withAudience.close();
  });

  const me = (jwt: string, on: App = app) =>
    on.inject({ url: '/v1/me', headers: { authorization: `Bearer ${jwt}` } });

  async function expectRefused(jwt: string, reason: RegExp, on: App = app) {
    const res = await me(jwt, on);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(res.json().detail).toMatch(reason);
  }

  describe('clock skew: one minute at most', () => {
    test('iat more than 60 s ahead is refused; 30 s ahead is a clock a little fast', async () => {
      await expectRefused(await sign({ ...claims, iat: now() + 120, exp: now() + 3600 }), /claim iat/);
      await expectRefused(await sign({ ...claims, iat: now() + 3 * DAY, exp: now() + 4 * DAY }), /claim iat/);
      expect((await me(await sign({ ...claims, iat: now() + 30, exp: now() + 3600 }))).statusCode).toBe(200);
    });

    test('nbf is honoured with the same tolerance', async () => {
      await expectRefused(await sign({ ...claims, nbf: now() + 120, exp: now() + 3600 }), /claim nbf/);
      expect((await me(await sign({ ...claims, nbf: now() + 30, exp: now() + 3600 }))).statusCode).toBe(200);
    });

    test('exp gets no tolerance: a token expired a second ago is refused', async () => {
      await expectRefused(await sign({ ...claims, iat: now() - 60, exp: now() - 1 }), /expired/);
    });

    test('a fake clock moves the checks with it (TokenVerifier and verifyToken take now)', async () => {
      const config = testConfig();
      let clock = Date.now();
      const verifier = new TokenVerifier(keys.publicKey, config, 10, () => clock);
      const jwt = await sign({ ...claims, iat: now() + 600, nbf: now() + 600, exp: now() + 3600 });
      await expect(verifier.verify(jwt)).rejects.toThrow(/claim (iat|nbf)/);
      clock += 560_000;
      await expect(verifier.verify(jwt)).resolves.toMatchObject({ sub: 'alice' });
      await expect(verifyToken(jwt, keys.publicKey, config, clock)).resolves.toMatchObject({ sub: 'alice' });
      clock += 3_100_000;
      await expect(verifier.verify(jwt)).rejects.toThrow('token expired');
    });
  });

  describe('audience', () => {
    test('without JWT_AUDIENCE, a token carrying any aud was minted for something else', async () => {
      await expectRefused(await sign({ ...claims, aud: 'billing', exp: now() + 600 }), /claim aud/);
      await expectRefused(await sign({ ...claims, aud: ['ptce-api'], exp: now() + 600 }), /claim aud/);
    });

    test('with JWT_AUDIENCE, the token must carry it', async () => {
      const on = withAudience;
      await expectRefused(await sign({ ...claims, exp: now() + 600 }), /claim aud/, on);
      await expectRefused(await sign({ ...claims, aud: 'billing', exp: now() + 600 }), /claim aud/, on);
      expect((await me(await sign({ ...claims, aud: 'ptce-api', exp: now() + 600 }), on)).statusCode).toBe(
        200,
      );
    });

    test('mintToken puts JWT_AUDIENCE in the token, and nothing when it is unset', async () => {
      const config = testConfig({ JWT_AUDIENCE: 'ptce-api' });
      const jwt = await token({}, config);
      expect(JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString())).toMatchObject({
        aud: 'ptce-api',
      });
      expect((await me(jwt, withAudience)).statusCode).toBe(200);
      const plain = await token();
      expect(JSON.parse(Buffer.from(plain.split('.')[1] ?? '', 'base64url').toString())).not.toHaveProperty(
        'aud',
      );
    });
  });

  describe('lifetime at most JWT_MAX_TTL', () => {
    test('exp − iat above the maximum is refused, at the maximum accepted', async () => {
      const iat = now() - 10;
      await expectRefused(await sign({ ...claims, iat, exp: iat + 90 * DAY + 1 }), /lifetime/);
      await expectRefused(await sign({ ...claims, iat, exp: iat + 100 * 365 * DAY }), /lifetime/);
      expect((await me(await sign({ ...claims, iat, exp: iat + 90 * DAY }))).statusCode).toBe(200);
    });

    test('without iat, exp − now counts', async () => {
      await expectRefused(await sign({ ...claims, exp: now() + 91 * DAY }), /lifetime/);
      expect((await me(await sign({ ...claims, exp: now() + 89 * DAY }))).statusCode).toBe(200);
    });

    test('an iat far in the past does not stretch a short remaining life into an accepted one', async () => {
      await expectRefused(await sign({ ...claims, iat: 0, exp: now() + 60 }), /lifetime/);
    });

    test('a shorter JWT_MAX_TTL is honoured, and mintToken refuses to mint above it', async () => {
      const config = testConfig({ JWT_MAX_TTL: '1h' });
      const jwt = await token({ ttl: '2h' }, testConfig());
      await expect(verifyToken(jwt, keys.publicKey, config)).rejects.toThrow(/lifetime/);
      await expect(token({ ttl: '2h' }, config)).rejects.toThrow(/JWT_MAX_TTL/);
      await expect(token({ ttl: '1h' }, config)).resolves.toMatch(/\./);
    });
  });

  describe('one spelling per token: anything but canonical base64url is malformed', () => {
    const variants: [string, (jwt: string) => string][] = [
      ['a signature with == appended', (jwt) => `${jwt}==`],
      ['a signature with = appended', (jwt) => `${jwt}=`],
      ['a padded payload segment', (jwt) => jwt.replace(/^([^.]+)\.([^.]+)\./, '$1.$2==.')],
      ['a padded header segment', (jwt) => jwt.replace(/^([^.]+)\./, '$1=.')],
      ['base64 + and / instead of - and _', (jwt) => jwt.replace(/-/g, '+').replace(/_/g, '/')],
      ['a ~ in the signature', (jwt) => `${jwt.slice(0, -1)}~`],
      ['other trailing bits in the last character', withTrailingBitsSet],
      ['a fourth segment', (jwt) => `${jwt}.${jwt.split('.')[2]}`],
    ];

    test.each(variants)('%s → 401 malformed token', async (_name, forge) => {
      const jwt = await tokenWithDashes();
      const forged = forge(jwt);
      // A tampering that left the string as it was would prove nothing.
      expect(forged).not.toBe(jwt);
      expect((await me(jwt)).statusCode).toBe(200);
      await expectRefused(forged, /^A valid bearer token is required: malformed token\.$/);
    });

    test('the same bytes spelled with other trailing bits are what jose alone would accept', () => {
      // Documents why the canonical check exists: Node's decoder ignores the trailing bits.
      const sig = b64(Buffer.alloc(64, 7));
      const other = withTrailingBitsSet(`x.y.${sig}`).split('.')[2] as string;
      expect(other).not.toBe(sig);
      expect(Buffer.from(other, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    });
  });

  describe('the TokenVerifier cache keeps its guarantees', () => {
    test('a remembered token does not let its non-canonical spellings through', async () => {
      const verifier = new TokenVerifier(keys.publicKey, testConfig());
      const jwt = await tokenWithDashes();
      await verifier.verify(jwt);
      const forgeries = [`${jwt}==`, withTrailingBitsSet(jwt), jwt.replace(/-/g, '+').replace(/_/g, '/')];
      for (const forged of forgeries) {
        expect(forged).not.toBe(jwt);
        await expect(verifier.verify(forged)).rejects.toThrow('malformed token');
      }
      await expect(verifier.verify(jwt)).resolves.toMatchObject({ sub: 'alice' });
      const cached = (verifier as unknown as { verified: Map<string, unknown> }).verified;
      expect([...cached.keys()]).toEqual([jwt]);
    });

    test('refusals are not remembered: a token refused once is refused again, not answered', async () => {
      const verifier = new TokenVerifier(keys.publicKey, testConfig());
      const jwt = await sign({ ...claims, iat: now() + 600, exp: now() + 3600 });
      await expect(verifier.verify(jwt)).rejects.toThrow(/claim iat/);
      await expect(verifier.verify(jwt)).rejects.toThrow(/claim iat/);
      expect((verifier as unknown as { verified: Map<string, unknown> }).verified.size).toBe(0);
    });
  });

  describe('a sub that would disguise who recorded an event', () => {
    test.each([
      ['NUL', 'alice\u0000'],
      ['a newline', 'alice\nbob'],
      ['an escape sequence', '\u001b[31malice'],
      ['a right-to-left override', 'alice\u202Eecila'],
      ['a right-to-left isolate', '\u2067alice'],
      ['a zero-width space', 'ali\u200Bce'],
      ['a zero-width joiner', 'ali\u200Dce'],
      ['a byte-order mark', '\uFEFFalice'],
      ['a line separator', 'alice\u2028'],
      ['a lone surrogate', 'alice\uD800'],
    ])('%s in sub → 401 invalid claims: sub', async (_name, sub) => {
      await expectRefused(await sign({ ...claims, sub, exp: now() + 600 }), /invalid claims: sub/);
      await expect(
        mintToken({ sub, role: 'secretary', ptces: ['x'], ttl: 60 }, keys.privateKey, testConfig()),
      ).rejects.toThrow();
    });

    test('accented and non-Latin names stay welcome', async () => {
      for (const sub of ['Hélène Müller', 'مريم', '李雷', 'cli:secretary:a+b']) {
        const res = await me(await sign({ ...claims, sub, exp: now() + 600 }));
        expect(res.statusCode).toBe(200);
        expect(res.json().sub).toBe(sub);
      }
    });
  });

  test('a token without jti (minted before revocation existed) is still accepted', async () => {
    expect((await me(await sign({ ...claims, iat: now(), exp: now() + 600 }))).statusCode).toBe(200);
  });

  test('a jti that is not a short visible string is refused', async () => {
    await expectRefused(
      await sign({ ...claims, jti: 42 as unknown as string, exp: now() + 600 }),
      /invalid claims: jti/,
    );
    await expectRefused(await sign({ ...claims, jti: 'a b', exp: now() + 600 }), /invalid claims: jti/);
  });
});
