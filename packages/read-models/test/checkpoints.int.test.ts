import { createPublicKey, randomUUID, verify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStores, type Stores } from '@ptce/event-store';
import { type NewEvent, streamName } from '@ptce/events';
import { SnapshotKeys } from '@ptce/platform';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { verifyPtceChains } from '../src/audit-log.ts';
import { ChainCheckpoints, type SignedCheckpoint } from '../src/checkpoints.ts';

let dir: string;
let stores: Stores;
let keys: SnapshotKeys;
let now = Date.parse('2026-11-30T08:00:00Z');
let checkpoints: ChainCheckpoints;

const event = (ptceId: string, type: string, data: Record<string, unknown>): NewEvent => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  ptceId,
  occurredAt: '2020-01-01',
  recordedBy: 'checkpoints-test',
  data,
});
const register = (ptceId: string) =>
  stores.events.append(
    streamName('membership', ptceId),
    [event(ptceId, 'PtceRegistered', { ptceId, name: ptceId, territory: { name: 'T' } })],
    { expectedRevision: 'any' },
  );
const join = (ptceId: string, organisationId: string) =>
  stores.events.append(
    streamName('membership', ptceId),
    [event(ptceId, 'MemberJoined', { organisationId, name: organisationId, category: 'enterprise' })],
    { expectedRevision: 'any' },
  );

/** RFC 8785 for what a checkpoint holds (strings, integers, arrays, objects), written here, not the project's. */
const canonical = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(canonical).join(',')}]`
    : value !== null && typeof value === 'object'
      ? `{${Object.keys(value)
          .sort()
          .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
          .join(',')}}`
      : JSON.stringify(value);

const verifiesIndependently = (signed: SignedCheckpoint, publicPem: string) =>
  verify(
    null,
    Buffer.from(canonical(signed.checkpoint), 'utf8'),
    createPublicKey(publicPem),
    Buffer.from(signed.signature.value, 'base64url'),
  );

const listed = async (ptceId: string) =>
  (await checkpoints.list(ptceId)).filter((entry): entry is SignedCheckpoint => !('unreadable' in entry));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-checkpoints-'));
  stores = await openStores(`sqlite:${path.join(dir, 'ptce.db')}`);
  keys = new SnapshotKeys(dir);
  keys.ensure();
  checkpoints = new ChainCheckpoints({
    events: stores.events,
    store: stores.checkpoints,
    keys,
    now: () => now,
  });
  await register('alpha');
  await register('beta');
});
afterAll(async () => {
  await stores.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a round takes one checkpoint per PTCE whose chains moved since its last, none otherwise', async () => {
  expect(await checkpoints.takeAll()).toEqual({ ptces: 2, taken: 2 });
  now += 86_400_000;
  expect(await checkpoints.takeAll()).toEqual({ ptces: 2, taken: 0 });
  await join('alpha', 'garage');
  expect(await checkpoints.takeAll()).toEqual({ ptces: 2, taken: 1 });

  const alpha = await listed('alpha');
  expect(alpha.map((c) => c.checkpoint.takenAt)).toEqual([
    '2026-11-30T08:00:00.000Z',
    '2026-12-01T08:00:00.000Z',
  ]);
  expect(alpha.map((c) => c.checkpoint.heads.map((h) => h.revision))).toEqual([[0], [1]]);
  const [head] = await stores.events.readStream(streamName('membership', 'alpha'), {
    direction: 'backwards',
    limit: 1,
  });
  expect(alpha[1]!.checkpoint.heads).toEqual([{ stream: 'membership-alpha', revision: 1, hash: head!.hash }]);
});

test('each checkpoint verifies with its published key, by an implementation independent of the project', async () => {
  const keyId = keys.current().keyId;
  const pem = fs.readFileSync(path.join(keys.dir, `${keyId}.public.pem`), 'utf8');
  for (const signed of await listed('alpha')) {
    expect(signed.signature).toMatchObject({ alg: 'Ed25519', keyId });
    expect(verifiesIndependently(signed, pem)).toBe(true);
    const forged = { ...signed, checkpoint: { ...signed.checkpoint, takenAt: '2030-01-01T00:00:00.000Z' } };
    expect(verifiesIndependently(forged, pem)).toBe(false);
  }
});

test('after a rotation the old checkpoints still hold against the chains, under the retired key', async () => {
  const { retired } = keys.rotate();
  // Later than the last one: two taken at the same instant are listed by digest, not in turn.
  now += 3_600_000;
  await join('alpha', 'ferme');
  expect(await checkpoints.take('alpha')).toBe(true);
  const all = await listed('alpha');
  expect(all.map((c) => c.signature.keyId)).toEqual([retired, retired, keys.current().keyId]);
  const result = await verifyPtceChains(stores.events, 'alpha', await checkpoints.evidence('alpha'));
  expect(result).toMatchObject({ ok: true, checkpoints: 3, checkpoint: { keyId: keys.current().keyId } });
});

test('a checkpoint signed by a key never published is refused, naming it', async () => {
  const stranger = new ChainCheckpoints({
    events: stores.events,
    store: stores.checkpoints,
    keys: new SnapshotKeys(fs.mkdtempSync(path.join(dir, 'stranger-'))),
    now: () => now + 1,
  });
  await join('beta', 'lycee');
  expect(await stranger.take('beta')).toBe(true);
  const result = await verifyPtceChains(stores.events, 'beta', await checkpoints.evidence('beta'));
  expect(result.ok).toBe(false);
  expect(result.checkpointMismatch).toMatchObject({ reason: 'signature' });
  expect(result.checkpointMismatch?.detail).toMatch(/never published/);
});

test('rounds come on their own while the process runs, and stop when told', async () => {
  await join('beta', 'labo');
  const logged: unknown[] = [];
  const log = {
    info: (fields: object) => logged.push(fields),
    warn: (fields: object) => logged.push(fields),
  };
  const stop = checkpoints.schedule({ everyMs: 40, firstAfterMs: 10, log });
  await expect.poll(() => logged.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
  await stop();
  expect(logged[0]).toEqual({ ptces: 2, taken: 1 });
  expect(logged[1]).toEqual({ ptces: 2, taken: 0 });
  const after = logged.length;
  await new Promise((resolve) => setTimeout(resolve, 120));
  expect(logged.length).toBe(after);
});
