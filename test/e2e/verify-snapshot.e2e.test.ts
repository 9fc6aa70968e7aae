import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '@ptce/cli';
import { createPtceClient } from '@ptce/client';
import { canonicalJson } from '@ptce/events';
import { keyThumbprint } from '@ptce/platform';
import { clientFor, seedPtce, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clientAt } from './http.ts';

interface SignedSnapshot {
  snapshot: { ptceId: string; asOf: string; position: string; members: { total: number } };
  signature: { alg: string; keyId: string; value: string };
  generatedAt: string;
}
interface Jwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  status?: string;
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-verify-snapshot-'));
let server: TestServer;
let baseUrl: string;
let funder: string;

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: { DATA_DIR: server.config.DATA_DIR, LOG_LEVEL: 'silent' },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

function save(name: string, value: unknown): string {
  const file = path.join(workDir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** The body of a 200 answer; any other status fails the test with the problem answered. */
function body<T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T {
  expect(response.status, JSON.stringify(error)).toBe(200);
  if (data === undefined) throw new Error(`${response.url} answered no body`);
  return data;
}

async function snapshotsAsOf(asOf: string): Promise<{ snapshots: SignedSnapshot[] }> {
  const list = body(await clientAt(baseUrl, funder).GET('/v1/snapshots', { params: { query: { asOf } } }));
  // The route answers CSV too (`format=csv`); without it, JSON.
  if (typeof list === 'string') throw new Error('GET /v1/snapshots answered text, not JSON');
  return list;
}

/** The snapshot signed again by `privateKey`, under `keyId`: what a forger holding that key makes. */
function resigned(signed: SignedSnapshot, privateKey: KeyObject, keyId: string): SignedSnapshot {
  const value = sign(null, Buffer.from(canonicalJson(signed.snapshot), 'utf8'), privateKey).toString(
    'base64url',
  );
  return { ...signed, signature: { alg: 'Ed25519', keyId, value } };
}

function foreignKey(): { privateKey: KeyObject; jwk: Jwk } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = keyThumbprint(publicKey);
  const x = String(publicKey.export({ format: 'jwk' }).x);
  return { privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x, kid, status: 'current' } };
}

let saved: SignedSnapshot;
let savedFile: string;
let keysFileAfterRotation: string;
let keySetAfterRotation: { keys: Jwk[] };

beforeAll(async () => {
  server = await startTestServer();
  baseUrl = await server.app.listen({ port: 0, host: '127.0.0.1' });
  const admin = clientFor(server, await server.bearer('admin'));
  await seedPtce(admin, 'alpha');
  await seedPtce(admin, 'beta');
  funder = await server.bearer('funder', ['alpha', 'beta']);

  // Saved today, as a funder files it; the key that signed it is then retired.
  saved = body(
    await clientAt(baseUrl, funder).GET('/v1/snapshots/{ptceId}', {
      params: { path: { ptceId: 'alpha' }, query: { asOf: '2020-06-01' } },
    }),
  );
  savedFile = save('alpha.json', saved);
  expect((await run(['keys', 'rotate'])).code).toBe(0);
  keySetAfterRotation = body(await createPtceClient({ baseUrl }).GET('/.well-known/jwks.json'));
  keysFileAfterRotation = save('jwks.json', keySetAfterRotation);
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('ptce verify-snapshot on snapshots saved from a running server', () => {
  test('a snapshot signed before a rotation verifies with the key set fetched after it, its key reported retired', async () => {
    expect(keySetAfterRotation.keys.find((key) => key.kid === saved.signature.keyId)?.status).toBe('retired');
    const { code, stdout, stderr } = await run([
      'verify-snapshot',
      savedFile,
      '--keys',
      keysFileAfterRotation,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { ptceId, asOf, position } = saved.snapshot;
    expect(stdout).toBe(
      `${ptceId} asOf ${asOf} position ${position}: signature valid, key ${saved.signature.keyId} (retired)\n`,
    );
  });

  test("the key set fetched from the running server's URL does as well", async () => {
    const { code, stdout } = await run([
      'verify-snapshot',
      savedFile,
      '--keys',
      `${baseUrl}/.well-known/jwks.json`,
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain(`key ${saved.signature.keyId} (retired)`);
  });

  test('a list answer is verified snapshot by snapshot, each signed by the current key now', async () => {
    const list = await snapshotsAsOf('2020-06-01');
    const { code, stdout } = await run([
      'verify-snapshot',
      save('list.json', list),
      '--keys',
      keysFileAfterRotation,
    ]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^alpha asOf 2020-06-01 position \S+: signature valid, key \S+ \(current\)$/);
    expect(lines[1]).toMatch(/^beta asOf 2020-06-01 .*\(current\)$/);
  });

  test('in a list, each snapshot gets its own verdict: one altered fails the run, the other still verifies', async () => {
    const list = await snapshotsAsOf('2020-06-01');
    const beta = list.snapshots[1];
    if (!beta) throw new Error('the list holds two snapshots');
    beta.snapshot.members.total += 1;
    const { code, stdout } = await run([
      'verify-snapshot',
      save('list-altered.json', list),
      '--keys',
      keysFileAfterRotation,
    ]);
    expect(code).toBe(1);
    const [alpha, altered] = stdout.trimEnd().split('\n');
    expect(alpha).toMatch(/^alpha .*: signature valid, /);
    expect(altered).toMatch(/^beta .*: FAILED, bad signature: /);
  });

  test('one changed figure: bad signature, exit 1', async () => {
    const altered = structuredClone(saved);
    altered.snapshot.members.total += 1;
    const { code, stdout } = await run([
      'verify-snapshot',
      save('altered.json', altered),
      '--keys',
      keysFileAfterRotation,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^alpha asOf 2020-06-01 position \S+: FAILED, bad signature: /);
  });

  test('a signature by a key not in the set: unknown key, exit 1', async () => {
    const { privateKey, jwk } = foreignKey();
    const forged = resigned(saved, privateKey, jwk.kid);
    const { code, stdout } = await run([
      'verify-snapshot',
      save('forged.json', forged),
      '--keys',
      keysFileAfterRotation,
    ]);
    expect(code).toBe(1);
    expect(stdout).toContain(`FAILED, unknown key ${jwk.kid}`);
  });

  test("another key published under a trusted key's kid: thumbprint mismatch, exit 1, whatever it signed", async () => {
    const { privateKey, jwk } = foreignKey();
    const trustedKid = saved.signature.keyId;
    // Signed by the impostor, so only the thumbprint check stands between it and a valid verdict.
    const forged = resigned(saved, privateKey, trustedKid);
    const keySet = { keys: [{ ...jwk, kid: trustedKid }] };
    const { code, stdout } = await run([
      'verify-snapshot',
      save('impostor.json', forged),
      '--keys',
      save('impostor-jwks.json', keySet),
    ]);
    expect(code).toBe(1);
    expect(stdout).toContain(
      `FAILED, thumbprint mismatch: the key published as ${trustedKid} has the RFC 7638 thumbprint ${jwk.kid}`,
    );
  });

  test('another algorithm than Ed25519 is refused, exit 1', async () => {
    const other = { ...saved, signature: { ...saved.signature, alg: 'RS256' } };
    const { code, stdout } = await run([
      'verify-snapshot',
      save('rs256.json', other),
      '--keys',
      keysFileAfterRotation,
    ]);
    expect(code).toBe(1);
    expect(stdout).toContain('FAILED, unsupported signature algorithm "RS256"');
  });
});
