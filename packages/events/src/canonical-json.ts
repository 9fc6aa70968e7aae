/**
 * RFC 8785 (JSON Canonicalization Scheme). The event hash is computed over this form, so any
 * two implementations that follow the RFC (an auditor's script, another language) agree on it.
 */
export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

function serializeString(value: string): string {
  // JCS requires I-JSON input: a lone surrogate cannot be hashed portably, so refuse it.
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw new CanonicalJsonError('lone surrogate in string');
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      throw new CanonicalJsonError('lone surrogate in string');
    }
  }
  // ECMAScript JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 requires.
  return JSON.stringify(value);
}

/**
 * A failure deep inside the value. The path to it is collected on the way out, only when one is
 * thrown: building a path string for every member, for an error that never happens, was a quarter
 * of what hashing an event allocated.
 */
class Misplaced {
  readonly keys: (string | number)[] = [];
  constructor(readonly reason: string) {}
}

// Member names repeat across events (eventId, data, organisationId…): serialise each once. Bounded,
// since data may carry names of any kind.
const serializedKeys = new Map<string, string>();
function serializeKey(key: string): string {
  let out = serializedKeys.get(key);
  if (out === undefined) {
    out = serializeString(key);
    if (serializedKeys.size < 1024) serializedKeys.set(key, out);
  }
  return out;
}

/**
 * By UTF-16 code units, as RFC 8785 §3.2.3 specifies and `>` compares. Member lists are short, and
 * Array#sort copies them to a work area on every call (a third of what hashing an event
 * allocated): an insertion sort in place does without.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 32) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

function within(key: string | number, value: unknown): string | undefined {
  try {
    return serialize(value);
  } catch (error) {
    if (error instanceof Misplaced) error.keys.push(key);
    throw error;
  }
}

function serialize(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (
    value !== undefined &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    // Dates and the like: hash what JSON.stringify would store, so a hash survives a round trip.
    return serialize((value as { toJSON: () => unknown }).toJSON());
  }
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Misplaced('non-finite number');
      // Number.prototype.toString is the ECMAScript serialisation RFC 8785 §3.2.2.3 mandates (-0 → "0").
      return JSON.stringify(value);
    case 'string':
      return serializeString(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          // A hole or undefined item is null, as JSON.stringify writes it.
          out += `${i === 0 ? '' : ','}${within(i, value[i]) ?? 'null'}`;
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = sortKeys(Object.keys(record));
      let out = '{';
      for (const key of keys) {
        const member = within(key, record[key]);
        if (member !== undefined) out += `${out.length === 1 ? '' : ','}${serializeKey(key)}:${member}`;
      }
      return `${out}}`;
    }
    default:
      throw new Misplaced(`cannot canonicalise a ${typeof value}`);
  }
}

export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = serialize(value);
  } catch (error) {
    if (!(error instanceof Misplaced)) throw error;
    const path = error.keys.reduceRight<string>(
      (at, key) => (typeof key === 'number' ? `${at}[${key}]` : `${at}.${key}`),
      '$',
    );
    throw new CanonicalJsonError(`${error.reason} at ${path}`);
  }
  if (out === undefined) throw new CanonicalJsonError('cannot canonicalise undefined');
  return out;
}
