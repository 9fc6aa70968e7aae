import { describe, expect, test } from 'vitest';
import { TokenVerifier } from '../src/auth.ts';
import { keys, testConfig, token } from './helpers.ts';

const config = testConfig();

describe('TokenVerifier: each token verified once, until it expires', () => {
  test('a second use of the same token answers the same principal', async () => {
    const verifier = new TokenVerifier(keys.publicKey, config);
    const jwt = await token({ sub: 'bob', role: 'auditor', ptces: ['val-coop'] }, config);
    const first = await verifier.verify(jwt);
    expect(await verifier.verify(jwt)).toBe(first);
    expect(first).toEqual({ sub: 'bob', role: 'auditor', ptces: ['val-coop'] });
  });

  test('a remembered token is refused once its exp has passed', async () => {
    const verifier = new TokenVerifier(keys.publicKey, config);
    const jwt = await token({ ttl: '1s' }, config);
    await expect(verifier.verify(jwt)).resolves.toMatchObject({ sub: 'alice' });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await expect(verifier.verify(jwt)).rejects.toThrow('token expired');
  });

  test('a token differing in one character of its signature is verified, and refused', async () => {
    const verifier = new TokenVerifier(keys.publicKey, config);
    const jwt = await token({}, config);
    await verifier.verify(jwt);
    const last = jwt.at(-2) === 'A' ? 'B' : 'A';
    const forged = `${jwt.slice(0, -2)}${last}${jwt.at(-1)}`;
    await expect(verifier.verify(forged)).rejects.toThrow(/bad signature|malformed/);
  });

  test('the cache is bounded: the oldest token is forgotten first', async () => {
    const verifier = new TokenVerifier(keys.publicKey, config, 2);
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => token({ sub }, config)));
    for (const jwt of tokens) await verifier.verify(jwt);
    const size = (verifier as unknown as { verified: Map<string, unknown> }).verified.size;
    expect(size).toBe(2);
  });
});
