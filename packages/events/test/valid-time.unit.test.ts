import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareValidTime,
  endInstant,
  isAtOrBefore,
  isValidTime,
  parisDate,
  startInstant,
  validTimeSchema,
} from '../src/valid-time.ts';

describe('validTimeSchema', () => {
  it.each([
    ['2021-02-28', true],
    ['2020-02-29', true],
    ['2021-02-29', false],
    ['2021-02-30', false],
    ['2021-13-01', false],
    ['2021-00-10', false],
    ['2021-1-01', false],
    ['2021-03-28T01:30:00Z', true],
    ['2021-03-28T01:30:00.123+02:00', true],
    ['2021-03-28T01:30+01:00', true],
    ['2021-03-28T24:00:00Z', false],
    ['2021-03-28T01:30:00', false],
    ['2021-02-30T10:00:00Z', false],
    ['2021-03-28T10:60:00Z', false],
    ['yesterday', false],
    ['', false],
  ])('%s → %s', (input, ok) => {
    expect(validTimeSchema.safeParse(input).success).toBe(ok);
    expect(isValidTime(input)).toBe(ok);
  });
});

describe('startInstant / endInstant', () => {
  it.each([
    // winter: Paris = UTC+1
    ['2021-01-15', '2021-01-14T23:00:00.000Z', '2021-01-15T22:59:59.999Z'],
    // the spring-forward day lasts 23 hours: it starts at UTC+1 and ends at UTC+2
    ['2021-03-28', '2021-03-27T23:00:00.000Z', '2021-03-28T21:59:59.999Z'],
    // summer: UTC+2
    ['2021-07-14', '2021-07-13T22:00:00.000Z', '2021-07-14T21:59:59.999Z'],
    // the fall-back day lasts 25 hours
    ['2021-10-31', '2021-10-30T22:00:00.000Z', '2021-10-31T22:59:59.999Z'],
    ['2020-02-29', '2020-02-28T23:00:00.000Z', '2020-02-29T22:59:59.999Z'],
    ['2020-12-31', '2020-12-30T23:00:00.000Z', '2020-12-31T22:59:59.999Z'],
  ])('%s starts at %s and ends at %s', (date, start, end) => {
    expect(new Date(startInstant(date)).toISOString()).toBe(start);
    expect(new Date(endInstant(date)).toISOString()).toBe(end);
  });

  it('an instant is itself at both ends, whatever its offset', () => {
    const v = '2021-03-28T03:30:00+02:00';
    expect(new Date(startInstant(v)).toISOString()).toBe('2021-03-28T01:30:00.000Z');
    expect(endInstant(v)).toBe(startInstant(v));
    expect(startInstant('2021-03-28T01:30:00.5Z')).toBe(Date.UTC(2021, 2, 28, 1, 30, 0, 500));
  });

  it('throws on an invalid valid time', () => {
    expect(() => startInstant('2021-02-30')).toThrow(/not a valid time/);
  });
});

describe('parisDate', () => {
  it.each([
    ['2021-03-27T23:00:00.000Z', '2021-03-28'],
    ['2021-03-27T22:59:59.999Z', '2021-03-27'],
    ['2021-10-31T22:59:59.999Z', '2021-10-31'],
    ['2021-10-31T23:00:00.000Z', '2021-11-01'],
    ['2020-02-28T23:30:00.000Z', '2020-02-29'],
  ])('%s is %s in Paris', (iso, day) => {
    expect(parisDate(Date.parse(iso))).toBe(day);
  });
});

describe('compareValidTime / isAtOrBefore', () => {
  it('orders by start, a date before an instant at the same start', () => {
    expect(compareValidTime('2021-01-01', '2021-01-02')).toBeLessThan(0);
    expect(compareValidTime('2021-01-02', '2020-12-31T23:00:00Z')).toBeGreaterThan(0);
    expect(compareValidTime('2021-01-01', '2020-12-31T23:00:00Z')).toBeLessThan(0);
    expect(compareValidTime('2020-12-31T23:00:00Z', '2021-01-01')).toBeGreaterThan(0);
    expect(compareValidTime('2021-01-01T00:00:00+01:00', '2020-12-31T23:00:00Z')).toBe(0);
  });

  it('a date as of includes its whole Paris day', () => {
    expect(isAtOrBefore('2021-10-31T22:30:00Z', '2021-10-31')).toBe(true);
    expect(isAtOrBefore('2021-10-31T23:00:00Z', '2021-10-31')).toBe(false);
    expect(isAtOrBefore('2021-10-31', '2021-10-30T22:00:00Z')).toBe(true);
    expect(isAtOrBefore('2021-10-31', '2021-10-30T21:59:59.999Z')).toBe(false);
    expect(isAtOrBefore('2021-10-31', '2021-10-31')).toBe(true);
  });
});

const dateArb = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2060-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const instantArb = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2060-12-31T00:00:00Z'), noInvalidDate: true })
  .chain((d) =>
    fc.constantFrom('Z', '+01:00', '+02:00', '-05:00').map((off) => {
      if (off === 'Z') return d.toISOString();
      const sign = off.startsWith('-') ? -1 : 1;
      const mins = sign * (Number(off.slice(1, 3)) * 60 + Number(off.slice(4, 6)));
      return new Date(d.getTime() + mins * 60_000).toISOString().replace('Z', off);
    }),
  );
const validTimeArb = fc.oneof(dateArb, instantArb);

describe('properties', () => {
  it('every generated valid time parses and starts no later than it ends', () => {
    fc.assert(
      fc.property(validTimeArb, (v) => {
        expect(isValidTime(v)).toBe(true);
        expect(startInstant(v)).toBeLessThanOrEqual(endInstant(v));
      }),
    );
  });

  it('a date spans 23, 24 or 25 hours and maps back to itself', () => {
    fc.assert(
      fc.property(dateArb, (d) => {
        const hours = (endInstant(d) + 1 - startInstant(d)) / 3_600_000;
        expect([23, 24, 25]).toContain(hours);
        expect(parisDate(startInstant(d))).toBe(d);
        expect(parisDate(endInstant(d))).toBe(d);
        expect(parisDate(endInstant(d) + 1)).not.toBe(d);
      }),
    );
  });

  it('compareValidTime is antisymmetric, transitive and agrees with startInstant', () => {
    fc.assert(
      fc.property(validTimeArb, validTimeArb, validTimeArb, (a, b, c) => {
        expect(Math.sign(compareValidTime(a, b))).toBe(-Math.sign(compareValidTime(b, a)) || 0);
        if (startInstant(a) < startInstant(b)) expect(compareValidTime(a, b)).toBeLessThan(0);
        if (compareValidTime(a, b) <= 0 && compareValidTime(b, c) <= 0) {
          expect(compareValidTime(a, c)).toBeLessThanOrEqual(0);
        }
      }),
    );
  });

  it('isAtOrBefore is monotonic in asOf and sorting is stable under it', () => {
    fc.assert(
      fc.property(validTimeArb, validTimeArb, validTimeArb, (e, t1, t2) => {
        const [early, late] = endInstant(t1) <= endInstant(t2) ? [t1, t2] : [t2, t1];
        if (isAtOrBefore(e, early)) expect(isAtOrBefore(e, late)).toBe(true);
        expect(isAtOrBefore(e, e)).toBe(true);
      }),
    );
  });
});

describe('parisDate from the hourly offset', () => {
  const reference = new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Europe/Paris',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });

  it('agrees with the time-zone database on every instant from 1970 to 2200, transitions included', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) }), (ms) => {
        expect(parisDate(ms)).toBe(reference.format(new Date(ms)));
      }),
      { numRuns: 5_000 },
    );
  });

  it('on each side of the 2024 changes of clock, to the millisecond', () => {
    // 2024-03-31 01:00 UTC: 02:00 becomes 03:00 in Paris; 2024-10-27 01:00 UTC: 03:00 becomes 02:00.
    for (const change of [Date.UTC(2024, 2, 31, 1), Date.UTC(2024, 9, 27, 1)]) {
      for (const ms of [change - 1, change, change + 1, change - 3_600_000, change + 3_600_000]) {
        expect(parisDate(ms)).toBe(reference.format(new Date(ms)));
      }
    }
    // Around Paris midnight in winter (23:00 UTC) and in summer (22:00 UTC).
    expect(parisDate(Date.UTC(2024, 0, 15, 22, 59, 59, 999))).toBe('2024-01-15');
    expect(parisDate(Date.UTC(2024, 0, 15, 23))).toBe('2024-01-16');
    expect(parisDate(Date.UTC(2024, 6, 15, 21, 59, 59, 999))).toBe('2024-07-15');
    expect(parisDate(Date.UTC(2024, 6, 15, 22))).toBe('2024-07-16');
  });
});
