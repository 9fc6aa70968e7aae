import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanonicalJsonError, canonicalJson } from '../src/canonical-json.ts';

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('canonicalJson (RFC 8785)', () => {
  it('serialises the RFC §3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serialises the IEEE-754 value %s as %s (RFC appendix B)', (bits, expected) => {
    expect(canonicalJson(fromBits(bits))).toBe(expected);
  });

  it('rejects NaN and infinities', () => {
    expect(() => canonicalJson(fromBits('7fffffffffffffff'))).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: [1, Number.POSITIVE_INFINITY] })).toThrow(
      /non-finite number at \$\.a\[1\]/,
    );
    expect(() => canonicalJson(Number.NEGATIVE_INFINITY)).toThrow(CanonicalJsonError);
  });

  it('drops undefined members, writes undefined array items as null, emits no whitespace', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, 1], c: { z: 1, y: 'x y' } })).toBe(
      '{"a":[null,1],"c":{"y":"x y","z":1}}',
    );
  });

  it('rejects lone surrogates, bigints and functions', () => {
    expect(() => canonicalJson('\ud800')).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ '\udc00': 1 })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ n: 10n })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(CanonicalJsonError);
  });

  it('is stable across a JSON round trip (what a store does to data)', () => {
    const value = { é: '中文 😀', d: new Date('2024-03-01T10:00:00.000Z'), n: -0, list: [1.5, 'x'] };
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(canonicalJson(value));
  });

  it('names the place of a value it cannot canonicalise, however deep', () => {
    expect(() => canonicalJson({ x: { y: [0, { z: 10n }] } })).toThrow(
      /cannot canonicalise a bigint at \$\.x\.y\[1\]\.z$/,
    );
    expect(() => canonicalJson([[1], [2, Number.NaN]])).toThrow(/non-finite number at \$\[1\]\[1\]$/);
  });

  it('writes a hole in an array as null, as JSON.stringify stores it', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the case under test
    const sparse = [, 1];
    expect(canonicalJson(sparse)).toBe('[null,1]');
    expect(canonicalJson(sparse)).toBe(canonicalJson(JSON.parse(JSON.stringify(sparse))));
  });

  it('agrees with a plain reference on any JSON value, objects of few members or many', () => {
    const wide = fc.dictionary(fc.string(), fc.integer(), { minKeys: 33, maxKeys: 80 });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 3 }), wide), (value) => {
        expect(canonicalJson(value)).toBe(canonicalJsonByStringify(value));
      }),
    );
  });
});

/** The reference: JSON.stringify writing members in code-unit order, whatever order the object keeps. */
function canonicalJsonByStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJsonByStringify).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJsonByStringify(record[k])}`).join(',')}}`;
}
