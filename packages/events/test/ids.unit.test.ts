import { describe, expect, it } from 'vitest';
import { deterministicEventId, eventIdSchema, newEventId, slugSchema } from '../src/ids.ts';

describe('ids', () => {
  it('accepts and refuses slugs', () => {
    for (const ok of ['val-coop', 'a', '0abc', 'a'.repeat(63)])
      expect(slugSchema.safeParse(ok).success).toBe(true);
    for (const bad of ['', '-a', 'A', 'a_b', 'a'.repeat(64), 'é']) {
      expect(slugSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('makes random v4 ids', () => {
    const a = newEventId();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newEventId()).not.toBe(a);
    expect(eventIdSchema.safeParse(a).success).toBe(true);
    expect(eventIdSchema.safeParse('not-a-uuid').success).toBe(false);
  });

  it('matches the standard UUID v5 for a UUID namespace', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
    expect(deterministicEventId('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe(
      '886313e1-3b8a-5372-9b90-0c9aee199e5d',
    );
  });

  it('is deterministic per (namespace, name) and valid', () => {
    const id = deterministicEventId('idem-key-123', '0');
    expect(deterministicEventId('idem-key-123', '0')).toBe(id);
    expect(deterministicEventId('idem-key-123', '1')).not.toBe(id);
    expect(deterministicEventId('idem-key-124', '0')).not.toBe(id);
    expect(deterministicEventId('a', 'b\u0000c')).not.toBe(deterministicEventId('a\u0000b', 'c'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(eventIdSchema.safeParse(id).success).toBe(true);
  });
});
