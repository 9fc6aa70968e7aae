import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { canonicalJson } from '@ptce/events';
import { keyThumbprint } from '@ptce/platform';
import { z } from 'zod';

export interface SnapshotCommandsIo {
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void;
}

export class SnapshotUsageError extends Error {}

/** What cannot be verified at all: a file unreadable or not of the expected shape. */
class UnverifiableInput extends Error {}

// Loose: the signature covers every field of `snapshot`, including any a later version adds, so
// the canonical JSON is taken of the object as saved, never of what a schema kept of it.
const signedSnapshotSchema = z.object({
  snapshot: z.looseObject({ ptceId: z.string(), asOf: z.string(), position: z.string() }),
  signature: z.object({ alg: z.string(), keyId: z.string(), value: z.string() }),
});
type SignedSnapshot = z.infer<typeof signedSnapshotSchema>;
const snapshotListSchema = z.object({ snapshots: z.array(signedSnapshotSchema) });

const jwkSchema = z.looseObject({
  kty: z.string(),
  crv: z.string().optional(),
  x: z.string().optional(),
  kid: z.string().optional(),
  status: z.string().optional(),
});
type Jwk = z.infer<typeof jwkSchema>;
const jwkSetSchema = z.object({ keys: z.array(jwkSchema) });

const FETCH_TIMEOUT_MS = 10_000;
const ED25519_SIGNATURE_BYTES = 64;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`)
    .join('; ');
}

async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UnverifiableInput(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UnverifiableInput(`malformed ${what} ${file}: not JSON (${(error as Error).message})`);
  }
}

// A plain fetch, not @ptce/client: `--keys` may name any key set a funder trusts (an archived
// copy, a mirror, another deployment), not only this server's /.well-known/jwks.json, and the
// answer is checked by jwkSetSchema whoever served it.
async function fetchJson(url: string, what: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new UnverifiableInput(`cannot fetch ${what} ${url}: ${cause}`);
  }
  if (!response.ok) throw new UnverifiableInput(`cannot fetch ${what} ${url}: HTTP ${response.status}`);
  try {
    return await response.json();
  } catch {
    throw new UnverifiableInput(`malformed ${what} at ${url}: not JSON`);
  }
}

/** One signed snapshot as `GET /v1/snapshots/{ptceId}` answers it, or each of a list answer. */
function signedSnapshotsOf(file: string, json: unknown): SignedSnapshot[] {
  const list = snapshotListSchema.safeParse(json);
  if (list.success) {
    if (list.data.snapshots.length === 0) throw new UnverifiableInput(`${file} holds no snapshot to verify`);
    return list.data.snapshots;
  }
  const one = signedSnapshotSchema.safeParse(json);
  if (one.success) return [one.data];
  const looksLikeList = typeof json === 'object' && json !== null && 'snapshots' in json;
  throw new UnverifiableInput(
    `malformed snapshot file ${file}: expected { snapshot, signature } or { snapshots: [...] } (${describeIssues(
      (looksLikeList ? list : one).error as z.ZodError,
    )})`,
  );
}

async function keySetFrom(source: string): Promise<Jwk[]> {
  const isUrl = /^https?:\/\//i.test(source);
  const json = isUrl ? await fetchJson(source, 'key set') : await readJsonFile(source, 'key set');
  const set = jwkSetSchema.safeParse(json);
  if (!set.success) {
    throw new UnverifiableInput(
      `malformed key set ${source}: expected a JWK set { keys: [...] } (${describeIssues(set.error)})`,
    );
  }
  return set.data.keys;
}

type Verdict =
  | { readonly ok: true; readonly status: string }
  | { readonly ok: false; readonly reason: string };

function publicKeyOf(jwk: Jwk): KeyObject | null {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.x === undefined) return null;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  } catch {
    return null;
  }
}

/** Which key signed it, whether that key is the one its kid names, and whether it signed this. */
function verdictOn({ snapshot, signature }: SignedSnapshot, keys: readonly Jwk[]): Verdict {
  if (signature.alg !== 'Ed25519') {
    return {
      ok: false,
      reason: `unsupported signature algorithm ${JSON.stringify(signature.alg)} (expected Ed25519)`,
    };
  }
  const named = keys.filter((key) => key.kid === signature.keyId);
  if (named.length === 0) return { ok: false, reason: `unknown key ${signature.keyId}: not in the key set` };
  const usable = named.map((jwk) => ({ jwk, publicKey: publicKeyOf(jwk) }));
  if (usable.every(({ publicKey }) => publicKey === null)) {
    return {
      ok: false,
      reason: `key ${signature.keyId} is not an Ed25519 public key (kty OKP, crv Ed25519, x)`,
    };
  }
  // A kid is only a label: a key set could carry someone else's key under a trusted key's kid.
  const genuine = usable.find(
    ({ publicKey }) => publicKey !== null && keyThumbprint(publicKey) === signature.keyId,
  );
  if (!genuine?.publicKey) {
    const thumbprints = usable.flatMap(({ publicKey }) => (publicKey ? [keyThumbprint(publicKey)] : []));
    return {
      ok: false,
      reason: `thumbprint mismatch: the key published as ${signature.keyId} has the RFC 7638 thumbprint ${thumbprints.join(', ')}`,
    };
  }
  const value = Buffer.from(signature.value, 'base64url');
  const isSignature =
    BASE64URL.test(signature.value) &&
    value.toString('base64url') === signature.value &&
    value.length === ED25519_SIGNATURE_BYTES;
  if (!isSignature)
    return { ok: false, reason: 'bad signature: the value is not a base64url Ed25519 signature' };
  if (!verify(null, Buffer.from(canonicalJson(snapshot), 'utf8'), genuine.publicKey, value)) {
    return {
      ok: false,
      reason: `bad signature: key ${signature.keyId} did not sign this snapshot (altered since, or signed over other content)`,
    };
  }
  return { ok: true, status: genuine.jwk.status ?? 'status not given' };
}

/**
 * `verify-snapshot FILE --keys FILE_OR_URL`: a saved signed snapshot (or a list answer) checked
 * offline against a JWK set, a line per snapshot; exit 0 when every one verifies, 1 otherwise.
 */
export async function verifySnapshot(args: string[], io: SnapshotCommandsIo): Promise<number> {
  let values: { keys?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { keys: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new SnapshotUsageError((error as Error).message);
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0 || !values.keys) {
    throw new SnapshotUsageError(
      'verify-snapshot takes one file (a saved snapshot, or a list of them) and --keys <JWK set file or http(s) URL>',
    );
  }
  let snapshots: SignedSnapshot[];
  let keys: Jwk[];
  try {
    snapshots = signedSnapshotsOf(file, await readJsonFile(file, 'snapshot file'));
    keys = await keySetFrom(values.keys);
  } catch (error) {
    if (!(error instanceof UnverifiableInput)) throw error;
    io.stderr(`verify-snapshot: ${error.message}\n`);
    return 1;
  }
  let failed = false;
  for (const signed of snapshots) {
    const { ptceId, asOf, position } = signed.snapshot;
    const what = `${ptceId} asOf ${asOf} position ${position}`;
    const verdict = verdictOn(signed, keys);
    if (verdict.ok) {
      await io.stdout(`${what}: signature valid, key ${signed.signature.keyId} (${verdict.status})\n`);
    } else {
      failed = true;
      await io.stdout(`${what}: FAILED, ${verdict.reason}\n`);
    }
  }
  return failed ? 1 : 0;
}
