import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPosition, POSITION_WIDTH } from '../src/common.ts';

describe('formatPosition', () => {
  it('writes each part in POSITION_WIDTH digits, so positions compare as strings', () => {
    expect(formatPosition(0)).toBe('0'.repeat(POSITION_WIDTH));
    expect(formatPosition(430)).toBe(`${'0'.repeat(POSITION_WIDTH - 3)}430`);
    expect(formatPosition(7n, 12n)).toBe(
      `${'0'.repeat(POSITION_WIDTH - 1)}7${'0'.repeat(POSITION_WIDTH - 2)}12`,
    );
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }),
        fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }),
        (a, b) => {
          const [pa, pb] = [formatPosition(a), formatPosition(b)];
          expect(pa).toBe(a.toString().padStart(POSITION_WIDTH, '0'));
          expect(pa < pb).toBe(a < b);
          expect(formatPosition(a, b)).toBe(pa + pb);
        },
      ),
    );
  });
});
