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

function serialize(value: unknown, path: string): string | undefined {
  if (value === null) return 'null';
  if (
    value !== undefined &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    // Dates and the like: hash what JSON.stringify would store, so a hash survives a round trip.
    return serialize((value as { toJSON: () => unknown }).toJSON(), path);
  }
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`non-finite number at ${path}`);
      // Number.prototype.toString is the ECMAScript serialisation RFC 8785 §3.2.2.3 mandates (-0 → "0").
      return JSON.stringify(value);
    case 'string':
      return serializeString(value);
    case 'object': {
      if (Array.isArray(value)) {
        const parts = value.map((item, i) => serialize(item, `${path}[${i}]`) ?? 'null');
        return `[${parts.join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 specifies.
      const keys = Object.keys(record).sort();
      const parts: string[] = [];
      for (const key of keys) {
        const member = serialize(record[key], `${path}.${key}`);
        if (member !== undefined) parts.push(`${serializeString(key)}:${member}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`cannot canonicalise a ${typeof value} at ${path}`);
  }
}

export function canonicalJson(value: unknown): string {
  const out = serialize(value, '$');
  if (out === undefined) throw new CanonicalJsonError('cannot canonicalise undefined');
  return out;
}
