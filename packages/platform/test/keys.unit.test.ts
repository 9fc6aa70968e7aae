import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ensureKeyPair, ensureKeys, keyThumbprint, loadJwtKeys } from '../src/keys.ts';
import { tempDir } from './helpers.ts';

describe('ensureKeyPair', () => {
  test('creates the directory and an Ed25519 pair on first use, private key mode 0600', () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const pair = ensureKeyPair(dataDir, 'jwt');
    expect(pair.privateKey.asymmetricKeyType).toBe('ed25519');
    const privatePath = path.join(dataDir, 'keys', 'jwt.private.pem');
    expect(fs.statSync(privatePath).mode & 0o777).toBe(0o600);
    const publicPem = fs.readFileSync(path.join(dataDir, 'keys', 'jwt.public.pem'), 'utf8');
    expect(createPublicKey(publicPem).equals(pair.publicKey)).toBe(true);
    const signature = sign(null, Buffer.from('x'), pair.privateKey);
    expect(verify(null, Buffer.from('x'), pair.publicKey, signature)).toBe(true);
  });

  test('reuses the pair afterwards, and names give separate pairs', () => {
    const dataDir = tempDir();
    const first = ensureKeyPair(dataDir, 'jwt');
    const again = ensureKeyPair(dataDir, 'jwt');
    const snapshots = ensureKeyPair(dataDir, 'snapshots');
    expect(again.publicKey.equals(first.publicKey)).toBe(true);
    expect(again.keyId).toBe(first.keyId);
    expect(snapshots.publicKey.equals(first.publicKey)).toBe(false);
    expect(ensureKeys(dataDir).keyId).toBe(first.keyId);
  });

  test('keyId is a prefix of the RFC 7638 thumbprint', () => {
    // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
      format: 'jwk',
    });
    expect(keyThumbprint(key)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
    const pair = ensureKeyPair(tempDir(), 'jwt');
    expect(pair.keyId).toHaveLength(16);
    expect(keyThumbprint(pair.publicKey).startsWith(pair.keyId)).toBe(true);
  });

  test('refuses names that could escape the keys directory', () => {
    expect(() => ensureKeyPair(tempDir(), '../x')).toThrow(/invalid key pair name/);
  });
});

describe('loadJwtKeys', () => {
  test('prefers PEM keys from the configuration and creates no files', () => {
    const pair = generateKeyPairSync('ed25519');
    const dataDir = tempDir();
    const keys = loadJwtKeys(
      loadConfig({
        DATA_DIR: dataDir,
        JWT_PUBLIC_KEY: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      }),
    );
    expect(keys.publicKey.equals(pair.publicKey)).toBe(true);
    expect(keys.privateKey).toBeUndefined();
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  test('falls back to DATA_DIR/keys', () => {
    const dataDir = tempDir();
    const keys = loadJwtKeys(loadConfig({ DATA_DIR: dataDir }));
    expect(keys.privateKey).toBeDefined();
    expect(fs.existsSync(path.join(dataDir, 'keys', 'jwt.private.pem'))).toBe(true);
  });
});
