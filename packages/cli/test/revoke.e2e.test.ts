import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openRevocationStore } from '@ptce/event-store';
import { createApp, loadConfig, loadJwtKeys } from '@ptce/platform';
import { afterAll, describe, expect, test } from 'vitest';
import { runCli } from '../src/cli.ts';

const exec = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../src/main.ts');
const DAY_MS = 86_400_000;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-revoke-'));
  dirs.push(dir);
  return dir;
}

/** An EdDSA JWT of exactly these claims (the CLI package does not depend on jose). */
function signJwt(payload: Record<string, unknown>, privateKey: KeyObject | undefined): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey as KeyObject).toString('base64url')}`;
}

function claimsOf(jwt: string): { jti?: string; exp: number; iat: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

async function run(argv: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

async function mint(env: Record<string, string>, ...extra: string[]): Promise<string> {
  const res = await run(['token', '--role', 'secretary', '--ptce', 'val-coop', ...extra], env);
  expect(res.code).toBe(0);
  return res.stdout.trim();
}

async function revokedIn(env: Record<string, string>) {
  const config = loadConfig(env);
  const store = await openRevocationStore({
    eventStoreUrl: config.EVENT_STORE_URL,
    dataDir: config.DATA_DIR,
  });
  try {
    return await store.list(Date.now());
  } finally {
    await store.close();
  }
}

describe('ptce token revoke (hostile-test defect 9B)', () => {
  test('given the token: records its jti until its exp, with the reason, in the deployment store', async () => {
    const env = { DATA_DIR: tempDataDir() };
    const jwt = await mint(env, '--ttl', '2h');
    const { jti, exp } = claimsOf(jwt);
    const res = await run(['token', 'revoke', jwt, '--reason', 'laptop stolen'], env);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toBe(`revoked ${jti} (remembered until ${new Date(exp * 1000).toISOString()})\n`);
    expect(await revokedIn(env)).toEqual([
      { jti, expiresAt: exp * 1000, revokedAt: expect.any(Number), reason: 'laptop stolen' },
    ]);
    // Beside the events and the idempotency keys: the deployment's SQLite file, no other.
    expect(fs.existsSync(path.join(env.DATA_DIR, 'ptce.db'))).toBe(true);
    expect(fs.existsSync(path.join(env.DATA_DIR, 'idempotency.db'))).toBe(false);
  });

  test('given only the jti: kept for JWT_MAX_TTL (and the tolerated clock skew)', async () => {
    const env = { DATA_DIR: tempDataDir(), JWT_MAX_TTL: '10d' };
    const { jti } = claimsOf(await mint(env));
    const before = Date.now();
    const res = await run(['token', 'revoke', jti as string], env);
    expect(res.code).toBe(0);
    const [entry] = await revokedIn(env);
    expect(entry?.jti).toBe(jti);
    expect(entry?.expiresAt).toBeGreaterThanOrEqual(before + 10 * DAY_MS + 60_000);
    expect(entry?.expiresAt).toBeLessThanOrEqual(Date.now() + 10 * DAY_MS + 60_000);
    expect(entry).not.toHaveProperty('reason');
  });

  test('as a process: `ptce token revoke <jti> --reason …` prints one line and exits 0', async () => {
    const dataDir = tempDataDir();
    const { jti } = claimsOf(await mint({ DATA_DIR: dataDir }));
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--import', 'tsx', MAIN, 'token', 'revoke', jti as string, '--reason', 'left the PTCE'],
      { env: { ...process.env, DATA_DIR: dataDir } },
    );
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^revoked ${jti} \\(remembered until [0-9T:.-]+Z\\)\\n$`));
  });

  test('a running app on the same configuration refuses the token within its refresh delay', async () => {
    const env = { DATA_DIR: tempDataDir(), LOG_LEVEL: 'silent' };
    const config = loadConfig(env);
    const revocations = await openRevocationStore({
      eventStoreUrl: config.EVENT_STORE_URL,
      dataDir: config.DATA_DIR,
    });
    const app = await createApp({
      config,
      jwtPublicKey: loadJwtKeys(config).publicKey,
      logger: false,
      revocations,
      revocationRefreshMs: 50,
    });
    try {
      const jwt = await mint(env);
      const me = () => app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${jwt}` } });
      expect((await me()).statusCode).toBe(200);
      expect((await run(['token', 'revoke', jwt], env)).code).toBe(0);
      const started = Date.now();
      while ((await me()).statusCode !== 401) {
        expect(Date.now() - started).toBeLessThan(2_000);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect((await me()).json().detail).toContain('token revoked');
    } finally {
      await app.close();
      await revocations.close();
    }
  });

  test('an expired token needs no revocation: said on stderr, exit 0, nothing recorded', async () => {
    const env = { DATA_DIR: tempDataDir() };
    const { privateKey } = loadJwtKeys(loadConfig(env));
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt(
      {
        role: 'secretary',
        ptces: ['x'],
        sub: 's',
        iss: 'ptce-ledger',
        jti: 'old-one',
        iat: now - 7200,
        exp: now - 3600,
      },
      privateKey,
    );
    const res = await run(['token', 'revoke', expired], env);
    expect(res).toMatchObject({ code: 0, stdout: '' });
    expect(res.stderr).toContain('nothing to do');
    expect(await revokedIn(env)).toEqual([]);
  });

  test.each([
    [[], /one argument/],
    [['a', 'b'], /one argument/],
    [['has space'], /neither a token nor a jti/],
    [['x', '--colour', 'red'], /Unknown option '--colour'/],
    [['x', '--reason', 'a\u0000b'], /--reason must be/],
  ])('revoke %j is a usage error: exit 2, nothing on stdout', async (argv, message) => {
    const res = await run(['token', 'revoke', ...argv], { DATA_DIR: tempDataDir() });
    expect(res).toMatchObject({ code: 2, stdout: '' });
    expect(res.stderr).toMatch(message);
  });

  test('a token of another deployment, or one without jti, is refused with exit 2', async () => {
    const env = { DATA_DIR: tempDataDir() };
    const now = Math.floor(Date.now() / 1000);
    const payload = { role: 'secretary', ptces: ['x'], sub: 's', iss: 'ptce-ledger', exp: now + 600 };
    const foreign = signJwt({ ...payload, jti: 'j' }, generateKeyPairSync('ed25519').privateKey);
    const foreignRes = await run(['token', 'revoke', foreign], env);
    expect(foreignRes).toMatchObject({ code: 2, stdout: '' });
    expect(foreignRes.stderr).toContain('not a token of this deployment: bad signature');

    const { privateKey } = loadJwtKeys(loadConfig(env));
    const old = signJwt(payload, privateKey);
    const oldRes = await run(['token', 'revoke', old], env);
    expect(oldRes).toMatchObject({ code: 2, stdout: '' });
    expect(oldRes.stderr).toContain('has no jti');
    expect(await revokedIn(env)).toEqual([]);
  });
});
