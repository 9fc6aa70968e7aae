import { generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { canonicalJson } from '@ptce/events';
import { keyThumbprint } from '@ptce/platform';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../src/cli.ts';

/*
 * The command on its own: arguments, unreadable and malformed inputs, and a key set served over
 * HTTP. Snapshots saved from a running server, rotated keys and forgeries are in
 * test/e2e/verify-snapshot.e2e.test.ts.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-verify-snapshot-'));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const kid = keyThumbprint(publicKey);
const snapshot = {
  ptceId: 'alpha',
  asOf: '2020-06-01',
  position: '00000000000000000003',
  members: { total: 3 },
};
const signed = {
  snapshot,
  signature: {
    alg: 'Ed25519',
    keyId: kid,
    value: sign(null, Buffer.from(canonicalJson(snapshot), 'utf8'), privateKey).toString('base64url'),
  },
  generatedAt: '2026-01-01T00:00:00.000Z',
};
const keySet = {
  keys: [
    { kty: 'OKP', crv: 'Ed25519', x: String(publicKey.export({ format: 'jwk' }).x), kid, status: 'current' },
  ],
};

function save(name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}
const signedFile = save('signed.json', signed);
const keysFile = save('jwks.json', keySet);

/** Serves the key set at /jwks.json, and nothing else. */
let keyServer: http.Server;
let keyServerUrl: string;
beforeAll(async () => {
  keyServer = http.createServer((request, response) => {
    if (request.url !== '/jwks.json') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keySet));
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  keyServerUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => keyServer.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: { DATA_DIR: dir, LOG_LEVEL: 'silent' },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

describe('ptce verify-snapshot', () => {
  test('a signed snapshot verifies with a key set from a file or an http URL', async () => {
    for (const keys of [keysFile, `${keyServerUrl}/jwks.json`]) {
      const { code, stdout, stderr } = await run(['verify-snapshot', signedFile, '--keys', keys]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toBe(
        `alpha asOf 2020-06-01 position 00000000000000000003: signature valid, key ${kid} (current)\n`,
      );
    }
  });

  test('a signature value that is not base64url of 64 bytes is a bad signature', async () => {
    for (const value of ['', 'not base64!', `${signed.signature.value}AA`, `${signed.signature.value}=`]) {
      const file = save('bad-value.json', { ...signed, signature: { ...signed.signature, value } });
      const { code, stdout } = await run(['verify-snapshot', file, '--keys', keysFile]);
      expect(code, value).toBe(1);
      expect(stdout).toContain('FAILED, bad signature');
    }
  });

  test('a key of the set that is not an Ed25519 public key is named, exit 1', async () => {
    const notEd25519 = { keys: [{ ...keySet.keys[0], crv: 'X25519' }] };
    const { code, stdout } = await run([
      'verify-snapshot',
      signedFile,
      '--keys',
      save('x25519.json', notEd25519),
    ]);
    expect(code).toBe(1);
    expect(stdout).toContain(`FAILED, key ${kid} is not an Ed25519 public key`);
  });

  test('what cannot be read or is not of the expected shape: exit 1, a message on stderr, no verdict', async () => {
    const cases: [snapshotFile: string, keys: string, message: RegExp][] = [
      [path.join(dir, 'missing.json'), keysFile, /cannot read snapshot file .*missing\.json/],
      [
        save('truncated.json', JSON.stringify(signed).slice(0, 40)),
        keysFile,
        /malformed snapshot file .*not JSON/,
      ],
      [save('bare.json', snapshot), keysFile, /malformed snapshot file .*signature/],
      [save('bad-list.json', { snapshots: [snapshot] }), keysFile, /malformed snapshot file .*snapshots\.0/],
      [save('empty-list.json', { snapshots: [] }), keysFile, /holds no snapshot to verify/],
      [signedFile, save('one-key.json', keySet.keys[0]), /malformed key set .*keys/],
      [signedFile, path.join(dir, 'no-keys.json'), /cannot read key set/],
      [signedFile, `${keyServerUrl}/missing.json`, /cannot fetch key set .*HTTP 404/],
    ];
    for (const [snapshotFile, keys, message] of cases) {
      const { code, stdout, stderr } = await run(['verify-snapshot', snapshotFile, '--keys', keys]);
      expect(code, `${snapshotFile} ${keys}`).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
    }
  });

  test('missing or unknown arguments exit 2 with a message on stderr', async () => {
    for (const argv of [
      ['verify-snapshot'],
      ['verify-snapshot', signedFile],
      ['verify-snapshot', '--keys', keysFile],
      ['verify-snapshot', signedFile, signedFile, '--keys', keysFile],
      ['verify-snapshot', signedFile, '--keys'],
      ['verify-snapshot', signedFile, '--keys', ''],
      ['verify-snapshot', signedFile, '--key', keysFile],
    ]) {
      const { code, stdout, stderr } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^ptce verify-snapshot: /);
    }
  });
});
