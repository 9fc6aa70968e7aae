import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStores, type Stores } from '@ptce/event-store';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadKeyEncryptionKey, PersonalData, PersonalDataKeyError } from '../src/index.ts';

let dir: string;
let stores: Stores;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-kek-'));
  stores = await openStores('sqlite::memory:');
});
afterEach(async () => {
  await stores.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the key-encryption key', () => {
  test('is made on first use, readable by its owner alone, and the same key is read afterwards', () => {
    const file = path.join(dir, 'sub', 'personal-data.key');
    const first = loadKeyEncryptionKey({ file });
    expect(first).toHaveLength(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(loadKeyEncryptionKey({ file })).toEqual(first);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['personal-data.key']);
  });

  test('a file others can read stops the start, naming it', () => {
    const file = path.join(dir, 'personal-data.key');
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    expect(() => loadKeyEncryptionKey({ file })).toThrow(/readable by others.*chmod 600/);
  });

  test('from the environment, in base64 or base64url; anything else is refused', () => {
    const key = randomBytes(32);
    const file = path.join(dir, 'unused.key');
    expect(loadKeyEncryptionKey({ key: key.toString('base64'), file })).toEqual(key);
    expect(loadKeyEncryptionKey({ key: key.toString('base64url'), file })).toEqual(key);
    expect(fs.existsSync(file)).toBe(false);
    expect(() => loadKeyEncryptionKey({ key: 'short', file })).toThrow(PersonalDataKeyError);
  });
});

describe('PersonalData', () => {
  test('seals under a key per subject, reveals, and an erased subject reads as null', async () => {
    const personal = await PersonalData.open(stores.personalKeys, randomBytes(32));
    const keys = await personal.prepare(['p/alice', 'p/bob']);
    const alice = keys.seal('p/alice', 'Alice Martin');
    const bob = keys.seal('p/bob', 'Bob Durand');
    expect(keys.seal('p/carol', 'Carol')).toBeUndefined();
    expect(JSON.stringify([alice, bob])).not.toMatch(/Alice|Bob|Martin|Durand/);
    // The same text twice never gives the same ciphertext.
    expect(keys.seal('p/alice', 'Alice Martin')).not.toEqual(alice);
    const before = await personal.reveal([alice!, bob!]);
    expect([...before.values()]).toEqual(['Alice Martin', 'Bob Durand']);
    expect(await personal.erase('p/alice')).toBe(true);
    const after = await personal.reveal([alice!, bob!]);
    expect([...after.values()]).toEqual([null, 'Bob Durand']);
    // A sealed field moved to another subject does not open: the subject is bound to it.
    expect([...(await personal.reveal([{ ...bob!, subject: 'p/alice' }])).values()]).toEqual([null]);
  });

  test('keys asked for together are made in one transaction, each subject keeping one key', async () => {
    const personal = await PersonalData.open(stores.personalKeys, randomBytes(32));
    const [a, b, c] = await Promise.all([
      personal.prepare(['p/x']),
      personal.prepare(['p/x', 'p/y']),
      personal.prepare(['p/y']),
    ]);
    const sealedByA = a.seal('p/x', 'X')!;
    const sealedByC = c.seal('p/y', 'Y')!;
    expect(b.seal('p/x', 'X')).toBeDefined();
    expect([...(await personal.reveal([sealedByA, sealedByC])).values()]).toEqual(['X', 'Y']);
  });

  test('another key-encryption key than the store was first used with stops the start', async () => {
    await PersonalData.open(stores.personalKeys, randomBytes(32));
    await expect(PersonalData.open(stores.personalKeys, randomBytes(32))).rejects.toThrow(
      /not the one this store was first used with/,
    );
  });
});
