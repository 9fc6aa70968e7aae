import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The first 16 characters of the key's RFC 7638 JWK thumbprint (SHA-256, base64url). */
  readonly keyId: string;
}

/** RFC 7638: the required members only, in lexicographic order, no whitespace. */
export function keyThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  let members: Record<string, unknown>;
  switch (jwk.kty) {
    case 'OKP':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
      break;
    case 'EC':
      members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
      break;
    case 'RSA':
      members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
      break;
    default:
      throw new Error(`unsupported key type ${String(jwk.kty)}`);
  }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export function keyIdOf(publicKey: KeyObject): string {
  return keyThumbprint(publicKey).slice(0, 16);
}

function keyPairFrom(privateKey: KeyObject): KeyPair {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/**
 * Loads the Ed25519 key pair `name` from `<dataDir>/keys`, creating it (and the directories)
 * on first use. Only the private key file is authoritative; the public PEM beside it is a
 * convenience for operators. Creation goes through a temporary file and a hard link so two
 * processes starting together on an empty directory end up with the same key.
 */
export function ensureKeyPair(dataDir: string, name: string): KeyPair {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`invalid key pair name: ${name}`);
  const dir = path.join(dataDir, 'keys');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privatePath = path.join(dir, `${name}.private.pem`);
  const publicPath = path.join(dir, `${name}.public.pem`);

  if (!fs.existsSync(privatePath)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const tmp = `${privatePath}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    try {
      fs.linkSync(tmp, privatePath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  const pair = keyPairFrom(createPrivateKey(fs.readFileSync(privatePath)));
  const publicPem = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  if (!fs.existsSync(publicPath) || fs.readFileSync(publicPath, 'utf8') !== publicPem) {
    fs.writeFileSync(publicPath, publicPem, { mode: 0o644 });
  }
  return pair;
}

/** The JWT signing keys of the deployment: DATA_DIR/keys/jwt.*, unless given as PEM in the environment. */
export interface JwtKeys {
  readonly publicKey: KeyObject;
  /** Absent when only JWT_PUBLIC_KEY is configured: such a process verifies but cannot mint. */
  readonly privateKey: KeyObject | undefined;
  readonly keyId: string;
}

/** The deployment's JWT signing pair in `<dataDir>/keys/jwt.*`, created on first start. */
export function ensureKeys(dataDir: string): KeyPair {
  return ensureKeyPair(dataDir, 'jwt');
}

export function loadJwtKeys(
  config: Pick<Config, 'DATA_DIR' | 'JWT_PUBLIC_KEY' | 'JWT_PRIVATE_KEY'>,
): JwtKeys {
  if (config.JWT_PUBLIC_KEY) {
    const publicKey = createPublicKey(config.JWT_PUBLIC_KEY);
    const privateKey = config.JWT_PRIVATE_KEY ? createPrivateKey(config.JWT_PRIVATE_KEY) : undefined;
    return { publicKey, privateKey, keyId: keyIdOf(publicKey) };
  }
  return ensureKeys(config.DATA_DIR);
}
