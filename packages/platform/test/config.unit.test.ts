import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      DATA_DIR: path.resolve('./data'),
      EVENT_STORE_URL: `sqlite:${path.resolve('./data/ptce.db')}`,
      REDIS_URL: undefined,
      LOG_LEVEL: 'info',
      JWT_ALG: 'EdDSA',
      JWT_ISSUER: 'ptce-ledger',
      JWT_AUDIENCE: undefined,
      JWT_MAX_TTL: 90 * 86400,
      RATE_LIMIT_MAX: 600,
      BODY_LIMIT: 1048576,
      IMPORT_BODY_LIMIT: 32 * 1024 * 1024,
      IMPORT_MAX_LINES: 10_000,
      REQUEST_TIMEOUT_MS: 30000,
      STAGE_RULES: undefined,
      READ_MODELS_PREFIX: 'ptce:read:',
      READ_CACHE_EVENTS: 400_000,
      PROJECTOR: 'auto',
    });
  });

  test('the default store lives in DATA_DIR, and blank variables mean the default', () => {
    const config = loadConfig({ DATA_DIR: '/tmp/ptce-x', PORT: '', REDIS_URL: ' ' });
    expect(config.EVENT_STORE_URL).toBe('sqlite:/tmp/ptce-x/ptce.db');
    expect(config.PORT).toBe(3000);
    expect(config.REDIS_URL).toBeUndefined();
  });

  test('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      EVENT_STORE_URL: 'postgresql://u@db/ptce',
      REDIS_URL: 'redis://cache:6379/2',
      LOG_LEVEL: 'debug',
      JWT_ISSUER: 'me',
      JWT_AUDIENCE: 'ptce-api',
      JWT_MAX_TTL: '12h',
      RATE_LIMIT_MAX: '5',
      BODY_LIMIT: '2048',
      REQUEST_TIMEOUT_MS: '0',
      STAGE_RULES: './rules.json',
      READ_MODELS_PREFIX: 'ptce-test:read:',
      READ_CACHE_EVENTS: '1000',
      PROJECTOR: 'off',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      EVENT_STORE_URL: 'postgresql://u@db/ptce',
      REDIS_URL: 'redis://cache:6379/2',
      LOG_LEVEL: 'debug',
      JWT_ISSUER: 'me',
      JWT_AUDIENCE: 'ptce-api',
      JWT_MAX_TTL: 43200,
      RATE_LIMIT_MAX: 5,
      BODY_LIMIT: 2048,
      REQUEST_TIMEOUT_MS: 0,
      STAGE_RULES: './rules.json',
      READ_MODELS_PREFIX: 'ptce-test:read:',
      READ_CACHE_EVENTS: 1000,
      PROJECTOR: 'off',
    });
  });

  test.each([
    'sqlite:./x.db',
    'postgres://a@b/c',
    'postgresql://a@b/c',
    'esdb://h:2113?tls=false',
    'kurrentdb://h:2113',
  ])('accepts the store URL %s', (url) => {
    expect(loadConfig({ EVENT_STORE_URL: url }).EVENT_STORE_URL).toBe(url);
  });

  test.each([
    ['PORT', 'abc', 'whole number between 0 and 65535'],
    ['PORT', '70000', 'whole number between 0 and 65535'],
    ['PORT', '-1', 'whole number between 0 and 65535'],
    ['EVENT_STORE_URL', 'mysql://x', 'sqlite:, postgres://, postgresql://, esdb://, kurrentdb://'],
    ['REDIS_URL', 'localhost:6379', 'redis:// or rediss://'],
    ['LOG_LEVEL', 'verbose', 'fatal, error, warn, info, debug, trace, silent'],
    ['JWT_ALG', 'HS256', 'symmetric and none are refused'],
    ['JWT_ALG', 'none', 'symmetric and none are refused'],
    ['JWT_PUBLIC_KEY', 'not a key', 'PEM-encoded public key'],
    ['JWT_PRIVATE_KEY', 'not a key', 'PEM-encoded private key'],
    ['JWT_MAX_TTL', '90', 'a duration such as 90d'],
    ['JWT_MAX_TTL', '0d', 'a duration such as 90d'],
    ['JWT_MAX_TTL', '1w', 'a duration such as 90d'],
    ['RATE_LIMIT_MAX', '0', 'between 1 and 1000000'],
    ['BODY_LIMIT', '1.5', 'whole number'],
    ['REQUEST_TIMEOUT_MS', 'soon', 'whole number'],
    ['PROJECTOR', 'maybe', 'expected auto, on or off'],
    ['READ_MODELS_PREFIX', 'a b', 'printable characters, no space'],
    ['READ_CACHE_EVENTS', '-5', 'whole number'],
    ['TRUST_PROXY', '1', 'comma-separated list of addresses'],
    ['TRUST_PROXY', '10.0.0.0/33', 'comma-separated list of addresses'],
    ['TRUST_PROXY', '127.0.0.1,gateway', 'comma-separated list of addresses'],
    ['UPSTREAMS', 'membership', 'name=http(s)://host:port'],
    ['UPSTREAMS', 'membership=ftp://membership:21', 'name=http(s)://host:port'],
    ['UPSTREAMS', 'Membership=http://membership:3000', 'name=http(s)://host:port'],
    ['UPSTREAMS', 'audit=http://a:3000,audit=http://b:3000', 'audit is named twice'],
  ])('refuses %s=%s', (variable, value, expected) => {
    const error = errorOf({ [variable]: value });
    expect(error.problems.map((p) => p.variable)).toContain(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(expected);
  });

  test('names every bad variable at once', () => {
    const error = errorOf({ PORT: 'x', LOG_LEVEL: 'loud', EVENT_STORE_URL: 'ftp://x' });
    expect(error.problems.map((p) => p.variable).sort()).toEqual(['EVENT_STORE_URL', 'LOG_LEVEL', 'PORT']);
  });

  test('a non-EdDSA algorithm needs the keys given, since generated keys are Ed25519', () => {
    const error = errorOf({ JWT_ALG: 'ES256' });
    expect(error.problems).toEqual([
      { variable: 'JWT_PUBLIC_KEY', message: expect.stringContaining('ES256') },
    ]);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(loadConfig({ JWT_ALG: 'ES256', JWT_PUBLIC_KEY: pem }).JWT_ALG).toBe('ES256');
  });

  test('a private key alone is refused; escaped newlines in PEM are accepted', () => {
    const pair = generateKeyPairSync('ed25519');
    const priv = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const pub = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(errorOf({ JWT_PRIVATE_KEY: priv }).problems[0]?.variable).toBe('JWT_PUBLIC_KEY');
    const config = loadConfig({ JWT_PUBLIC_KEY: pub.replace(/\n/g, '\\n'), JWT_PRIVATE_KEY: priv });
    expect(config.JWT_PUBLIC_KEY).toBe(pub);
  });

  test('TRUST_PROXY: nobody by default, everybody, or the gateway by address, block or named range', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '172.30.0.10, 10.0.0.0/8,loopback,::1' }).TRUST_PROXY).toEqual([
      '172.30.0.10',
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
  });

  test('UPSTREAMS: none by default; named base URLs, their trailing slash dropped', () => {
    expect(loadConfig({}).UPSTREAMS).toEqual([]);
    expect(
      loadConfig({ UPSTREAMS: 'working-groups=http://working-groups:3000/, audit=https://audit.internal' })
        .UPSTREAMS,
    ).toEqual([
      { name: 'working-groups', url: 'http://working-groups:3000' },
      { name: 'audit', url: 'https://audit.internal' },
    ]);
  });
});
