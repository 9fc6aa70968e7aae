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

  test('defaults: sub ptce-cli, ttl 30 days; admin defaults to every PTCE', async () => {
    const res = await run(['token', '--role', 'admin']);
    expect(res.code).toBe(0);
    const claims = decodeJwt(res.stdout.trim());
    expect(claims).toMatchObject({ sub: 'ptce-cli', role: 'admin', ptces: ['*'], iss: 'ptce-ledger' });
    expect(claims.exp! - claims.iat!).toBe(30 * 86400);
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
