import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureKeys, loadConfig, verifyToken } from '@ptce/platform';
import { describe, expect, test } from 'vitest';
import { runCli } from '../src/cli.ts';

function decodeJwt(jwt: string): Record<string, unknown> & { exp?: number; iat?: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

const exec = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../src/main.ts');

function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-'));
}

async function run(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: { DATA_DIR: tempDataDir(), ...env },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

describe('ptce token', () => {
  test('prints exactly one JWT, signed with the deployment key, and nothing else', async () => {
    const dataDir = tempDataDir();
    const { stdout, stderr } = await exec(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'token',
        '--role',
        'secretary',
        '--ptce',
        'val-coop',
        '--ptce',
        'autre-ptce',
        '--sub',
        'marie',
        '--ttl',
        '2h',
      ],
      { env: { ...process.env, DATA_DIR: dataDir } },
    );
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const config = loadConfig({ DATA_DIR: dataDir });
    const principal = await verifyToken(stdout.trim(), ensureKeys(dataDir).publicKey, config);
    expect(principal).toEqual({ sub: 'marie', role: 'secretary', ptces: ['val-coop', 'autre-ptce'] });
    const { exp, iat } = decodeJwt(stdout.trim());
    expect(exp! - iat!).toBe(7200);
  });

  test('defaults: sub from role and scope, ttl 30 days, a random jti; admin defaults to every PTCE', async () => {
    const res = await run(['token', '--role', 'admin']);
    expect(res.code).toBe(0);
    const claims = decodeJwt(res.stdout.trim());
    expect(claims).toMatchObject({ sub: 'cli:admin:*', role: 'admin', ptces: ['*'], iss: 'ptce-ledger' });
    expect(claims.exp! - claims.iat!).toBe(30 * 86400);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims).not.toHaveProperty('aud');
    const again = decodeJwt((await run(['token', '--role', 'admin'])).stdout.trim());
    expect(again.jti).not.toBe(claims.jti);
  });

  test.each([
    [['token'], /--role is required/],
    [['token', '--role', 'boss', '--ptce', 'x'], /--role must be one of/],
    [['token', '--role', 'secretary'], /--ptce is required/],
    [['token', '--role', 'secretary', '--ptce', 'Bad Id'], /is not a PTCE id/],
    [['token', '--role', 'secretary', '--ptce', '*', '--ptce', 'x'], /cannot be combined/],
    [['token', '--role', 'secretary', '--ptce', 'x', '--ttl', 'forever'], /--ttl must look like/],
    [['token', '--role', 'secretary', '--ptce', 'x', '--colour', 'red'], /Unknown option '--colour'/],
  ])('%j is a usage error: exit 2, message on stderr, nothing on stdout', async (argv, message) => {
    const res = await run(argv);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(message);
  });

  test('a --sub with control, format or invisible characters is a usage error', async () => {
    for (const sub of ['marie\u0000', 'marie\u202Eeiram', 'ma\u200Brie']) {
      const res = await run(['token', '--role', 'secretary', '--ptce', 'x', '--sub', sub]);
      expect(res).toMatchObject({ code: 2, stdout: '' });
      expect(res.stderr).toContain('--sub must not contain control, format or invisible characters');
    }
  });

  test('a bad configuration is reported and exits 2', async () => {
    const res = await run(['token', '--role', 'admin'], { JWT_ALG: 'HS256' });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('JWT_ALG');
  });
});

describe('ptce', () => {
  test('an unknown command prints the usage on stderr and exits 2', async () => {
    const res = await run(['replay-everything']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('unknown command');
    expect(res.stderr).toContain('Usage: ptce');
  });

  test('no command prints the usage on stderr and exits 2; help goes to stdout', async () => {
    expect(await run([])).toMatchObject({ code: 2, stdout: '' });
    const help = await run(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: ptce');
  });
});

describe('ptce token: a lifetime a careful verifier accepts, and the audience (hostile-test defect 9A)', () => {
  test('--ttl above JWT_MAX_TTL exits 2 and says why', async () => {
    const res = await run(['token', '--role', 'admin', '--ttl', '91d']);
    expect(res).toMatchObject({ code: 2, stdout: '' });
    expect(res.stderr).toContain('--ttl 91d is above JWT_MAX_TTL (90d)');
    const shorter = await run(['token', '--role', 'admin', '--ttl', '2h'], { JWT_MAX_TTL: '1h' });
    expect(shorter).toMatchObject({ code: 2, stdout: '' });
    expect(shorter.stderr).toContain('above JWT_MAX_TTL (1h)');
    expect((await run(['token', '--role', 'admin', '--ttl', '90d'])).code).toBe(0);
  });

  test('without --ttl, a JWT_MAX_TTL shorter than 30 days is the lifetime', async () => {
    const res = await run(['token', '--role', 'admin'], { JWT_MAX_TTL: '12h' });
    expect(res.code).toBe(0);
    const claims = decodeJwt(res.stdout.trim());
    expect(claims.exp! - claims.iat!).toBe(12 * 3600);
  });

  test('JWT_AUDIENCE is minted as aud, and the token verifies under the same configuration', async () => {
    const dataDir = tempDataDir();
    const env = { DATA_DIR: dataDir, JWT_AUDIENCE: 'ptce-api' };
    const res = await run(['token', '--role', 'auditor', '--ptce', 'val-coop'], env);
    expect(res.code).toBe(0);
    expect(decodeJwt(res.stdout.trim()).aud).toBe('ptce-api');
    const config = loadConfig(env);
    await expect(
      verifyToken(res.stdout.trim(), ensureKeys(dataDir).publicKey, config),
    ).resolves.toMatchObject({
      role: 'auditor',
    });
    await expect(
      verifyToken(res.stdout.trim(), ensureKeys(dataDir).publicKey, loadConfig({ DATA_DIR: dataDir })),
    ).rejects.toThrow(/claim aud/);
  });
});

describe('ptce token: a subject of its own for each role and scope (hostile-test defect 9C)', () => {
  const subOf = async (argv: string[]) => {
    const res = await run(['token', ...argv]);
    expect(res.code).toBe(0);
    return decodeJwt(res.stdout.trim()).sub;
  };

  test('the documented `ptce token --role secretary --ptce <id>` still works, as cli:secretary:<id>', async () => {
    expect(await subOf(['--role', 'secretary', '--ptce', 'val-coop'])).toBe('cli:secretary:val-coop');
  });

  test('two secretaries of different PTCE no longer share a subject (nor their idempotency keys)', async () => {
    const a = await subOf(['--role', 'secretary', '--ptce', 'p1']);
    const b = await subOf(['--role', 'secretary', '--ptce', 'p2']);
    expect(a).not.toBe(b);
    expect(await subOf(['--role', 'auditor', '--ptce', 'p1'])).toBe('cli:auditor:p1');
  });

  test('the scope is sorted and deduplicated: the same scope, the same subject', async () => {
    expect(await subOf(['--role', 'secretary', '--ptce', 'p2', '--ptce', 'p1'])).toBe('cli:secretary:p1+p2');
    expect(await subOf(['--role', 'secretary', '--ptce', 'p1', '--ptce', 'p2', '--ptce', 'p1'])).toBe(
      'cli:secretary:p1+p2',
    );
    expect(await subOf(['--role', 'funder', '--ptce', '*'])).toBe('cli:funder:*');
  });

  test('a scope too long for a 200-character subject is named by its digest, still distinct', async () => {
    const many = (n: number) =>
      Array.from({ length: 20 }, (_, i) => ['--ptce', `ptce-number-${n}-${i}`]).flat();
    const a = await subOf(['--role', 'secretary', ...many(1)]);
    const b = await subOf(['--role', 'secretary', ...many(2)]);
    expect(a).toMatch(/^cli:secretary:sha256-[0-9a-f]{32}$/);
    expect(b).toMatch(/^cli:secretary:sha256-[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
  });

  test('--sub still wins', async () => {
    expect(await subOf(['--role', 'secretary', '--ptce', 'p1', '--sub', 'marie'])).toBe('marie');
  });
});
