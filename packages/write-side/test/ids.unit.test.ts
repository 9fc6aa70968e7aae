import { expect, test } from 'vitest';
import { generatedId } from '../src/ids.ts';

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

test('under an Idempotency-Key the id is a function of the key and the caller', () => {
  const id = generatedId('sp', { sub: 'marie', idempotencyKey: 'k-1' });
  expect(id).toMatch(/^sp-[a-z0-9]{10}$/);
  expect(id).toMatch(SLUG);
  expect(generatedId('sp', { sub: 'marie', idempotencyKey: 'k-1' })).toBe(id);
  expect(generatedId('sp', { sub: 'marie', idempotencyKey: 'k-2' })).not.toBe(id);
  expect(generatedId('sp', { sub: 'paul', idempotencyKey: 'k-1' })).not.toBe(id);
  expect(generatedId('mt', { sub: 'marie', idempotencyKey: 'k-1' })).not.toMatch(/^sp-/);
});

test('without a key the id is random', () => {
  const ids = new Set(Array.from({ length: 200 }, () => generatedId('ac', { sub: 'marie' })));
  expect(ids.size).toBe(200);
  for (const id of ids) expect(id).toMatch(/^ac-[a-z0-9]{10}$/);
});

test("key reused after expiry with another request: another id, not the first use's", () => {
  const first = generatedId('sp', { sub: 'marie', idempotencyKey: 'k-1', fingerprint: 'body-1' });
  expect(generatedId('sp', { sub: 'marie', idempotencyKey: 'k-1', fingerprint: 'body-1' })).toBe(first);
  expect(generatedId('sp', { sub: 'marie', idempotencyKey: 'k-1', fingerprint: 'body-2' })).not.toBe(first);
  expect(first).toMatch(/^sp-[a-z0-9]{10}$/);
});
