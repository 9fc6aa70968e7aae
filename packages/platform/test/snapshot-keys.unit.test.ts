import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CURRENT_KEY_RECHECK_MS, SnapshotKeys } from '../src/snapshot-keys.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-snapshot-keys-'));
  dirs.push(dir);
  return dir;
}

describe('the current snapshot key of a server while the command line rotates it', () => {
  test('a rotation by another process is signed with once the recheck interval is over, at once after the key set is published', () => {
    const dir = dataDir();
    let now = 1_000_000;
    const server = new SnapshotKeys(dir, () => now);
    const first = server.ensure().keyId;
    expect(server.current().keyId).toBe(first);

    const { keyId: second } = new SnapshotKeys(dir).rotate();
    // Within the interval: the key it holds, retired but published, so what it signs verifies.
    now += CURRENT_KEY_RECHECK_MS - 1;
    expect(server.current().keyId).toBe(first);
    now += 1;
    expect(server.current().keyId).toBe(second);

    const { keyId: third } = new SnapshotKeys(dir).rotate();
    expect(server.publicKeys()[0]).toMatchObject({ keyId: third, status: 'current' });
    expect(server.current().keyId).toBe(third);
  });

  test('a key retired and removed before this process loaded it: the new one signs, no error', () => {
    const dir = dataDir();
    let now = 1_000_000;
    const server = new SnapshotKeys(dir, () => now);
    new SnapshotKeys(dir).ensure();
    // The server has looked at `current` but never loaded that key's private half.
    server.publicKeys();
    const { keyId } = new SnapshotKeys(dir).rotate();
    now += 1;
    expect(server.current().keyId).toBe(keyId);
  });

  test('a rotation in the same process signs with the new key at once', () => {
    const keys = new SnapshotKeys(dataDir(), () => 1_000_000);
    keys.ensure();
    const { keyId } = keys.rotate();
    expect(keys.current().keyId).toBe(keyId);
  });
});
