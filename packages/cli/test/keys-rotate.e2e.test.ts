import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SnapshotKeys } from '@ptce/platform';
import { afterAll, describe, expect, test } from 'vitest';
import { runCli } from '../src/cli.ts';

/** The key store's own file: a process loading only it starts in a fraction of the platform's time. */
const KEYS_MODULE = pathToFileURL(
  path.resolve(import.meta.dirname, '../../platform/src/snapshot-keys.ts'),
).href;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-keys-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: { DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

describe('ptce keys rotate', () => {
  test('bad arguments exit 2 and change nothing', async () => {
    for (const argv of [['keys'], ['keys', 'spin'], ['keys', 'rotate', '--now']]) {
      const { code, stderr } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stderr).toContain('keys takes one subcommand');
    }
    expect(fs.existsSync(path.join(dataDir, 'keys', 'snapshots'))).toBe(false);
  });

  test('a new current key; what the old one signed still verifies with its published public key', async () => {
    const keys = new SnapshotKeys(dataDir);
    const before = keys.ensure();
    const data = Buffer.from('{"ptceId":"p1"}');
    const signature = sign(null, data, before.privateKey);

    const { code, stdout } = await run(['keys', 'rotate']);
    expect(code).toBe(0);
    const published = keys.publicKeys();
    const current = published.find((k) => k.status === 'current');
    expect(current?.keyId).not.toBe(before.keyId);
    expect(stdout).toContain(current!.keyId);
    expect(stdout).toContain(before.keyId);
    expect(keys.current().keyId).toBe(current!.keyId);

    const retired = published.find((k) => k.keyId === before.keyId);
    expect(retired?.status).toBe('retired');
    expect(verify(null, data, retired!.publicKey, signature)).toBe(true);
    // Only public halves of retired keys remain: nothing can be signed with them any more.
    const files = fs.readdirSync(keys.dir);
    expect(files.filter((f) => f.endsWith('.private.pem'))).toEqual([`${current!.keyId}.private.pem`]);
    expect(fs.statSync(path.join(keys.dir, `${current!.keyId}.private.pem`)).mode & 0o777).toBe(0o600);
  });

  test('processes starting together on an empty directory agree on one key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-keys-race-'));
    const script = `import { SnapshotKeys } from ${JSON.stringify(KEYS_MODULE)}; process.stdout.write(new SnapshotKeys(${JSON.stringify(dir)}).ensure().keyId);`;
    try {
      const ids = await Promise.all(
        Array.from(
          { length: 4 },
          () =>
            new Promise<string>((resolve, reject) =>
              execFile(
                process.execPath,
                ['--import', 'tsx', '--input-type=module', '-e', script],
                { cwd: path.resolve(import.meta.dirname, '..') },
                (err, stdout) => (err ? reject(err) : resolve(stdout)),
              ),
            ),
        ),
      );
      expect(new Set(ids).size).toBe(1);
      expect(new SnapshotKeys(dir).publicKeys().map((k) => [k.keyId, k.status])).toEqual([
        [ids[0], 'current'],
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a current file naming a key of another content is refused, not trusted', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-keys-bad-'));
    try {
      const keys = new SnapshotKeys(dir);
      const { keyId } = keys.ensure();
      const other = generateKeyPairSync('ed25519').privateKey;
      fs.writeFileSync(
        path.join(keys.dir, `${keyId}.private.pem`),
        other.export({ format: 'pem', type: 'pkcs8' }),
      );
      expect(() => new SnapshotKeys(dir).current()).toThrow(/another key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
