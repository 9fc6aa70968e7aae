import { createPublicKey, verify } from 'node:crypto';
import { canonicalJson } from '@ptce/events';

/**
 * Every route of the Audit and Snapshots contract asked of one deployment about one PTCE, each
 * answer reduced to what two deployments of the same history must share: what differs by nature
 * (event ids, positions, hashes, instants of recording, keys) is checked here and left out.
 */
export interface AuditTour {
  readonly events: readonly unknown[];
  readonly replay: unknown;
  readonly verify: unknown;
  /** Whether any checkpoint is listed, and whether every one verifies: how many depends on the clock. */
  readonly checkpoints: { readonly any: boolean; readonly allVerify: boolean };
  readonly diff: unknown;
  readonly snapshot: unknown;
  readonly list: readonly string[];
  readonly csv: readonly string[];
  readonly report: { readonly lang: string; readonly hasChart: boolean; readonly namesKey: boolean };
}

interface Jwk {
  readonly kid: string;
  readonly [field: string]: unknown;
}
interface Signature {
  readonly alg: string;
  readonly keyId: string;
  readonly value: string;
}

/** Fields whose value is the deployment's own (ids it drew, positions, hashes, keys, clocks). */
const DEPLOYMENT_OWN = new Set([
  'eventId',
  'position',
  'lastPosition',
  'hash',
  'prevHash',
  'recordedAt',
  'knownAt',
  'generatedAt',
  'keyId',
  'takenAt',
]);

/** `value` without the deployment's own fields (and any `…EventId`), at any depth. */
export function shared(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shared);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !DEPLOYMENT_OWN.has(key) && !key.endsWith('EventId'))
      .map(([key, inner]) => [key, shared(inner)]),
  );
}

async function get(baseUrl: string, path: string, token: string | null, accept = 'application/json') {
  const response = await fetch(`${baseUrl}${path}`, {
    headers: { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${text}`);
  return { text, type: response.headers.get('content-type') ?? '' };
}

async function getJson<T>(baseUrl: string, path: string, token: string | null): Promise<T> {
  return JSON.parse((await get(baseUrl, path, token)).text) as T;
}

function verifies(signed: unknown, signature: Signature, keys: readonly Jwk[]): boolean {
  const jwk = keys.find((key) => key.kid === signature.keyId);
  if (!jwk || signature.alg !== 'Ed25519') return false;
  const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  return verify(null, Buffer.from(canonicalJson(signed)), key, Buffer.from(signature.value, 'base64url'));
}

/**
 * The tour of `ptceId` at `baseUrl`, by an auditor and by a funder, both scoped to it. `asOf` is
 * the valid time replayed and snapshotted; `from` the start of the diff up to it.
 */
export async function auditTour(
  baseUrl: string,
  {
    ptceId,
    auditor,
    funder,
    from,
    asOf,
  }: {
    ptceId: string;
    auditor: string;
    funder: string;
    from: string;
    asOf: string;
  },
): Promise<AuditTour> {
  const audit = `/v1/audit/ptces/${ptceId}`;

  // Small pages, to go through the cursor; the NDJSON stream must hold the same events.
  const paged: { stream: string; revision: number; type: string }[] = [];
  let after: string | null = null;
  do {
    const page: { events: typeof paged; next: string | null } = await getJson(
      baseUrl,
      `${audit}/events?limit=7${after ? `&after=${encodeURIComponent(after)}` : ''}`,
      auditor,
    );
    paged.push(...page.events);
    after = page.next;
  } while (after !== null);
  const streamed = (await get(baseUrl, `${audit}/events`, auditor, 'application/x-ndjson')).text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
  if (JSON.stringify(streamed) !== JSON.stringify(paged)) {
    throw new Error('the NDJSON stream and the pages hold different events');
  }

  const { keys } = await getJson<{ keys: Jwk[] }>(baseUrl, '/.well-known/jwks.json', null);

  const signedSnapshot = await getJson<{ snapshot: unknown; signature: Signature }>(
    baseUrl,
    `/v1/snapshots/${ptceId}?asOf=${asOf}`,
    funder,
  );
  if (!verifies(signedSnapshot.snapshot, signedSnapshot.signature, keys)) {
    throw new Error("the snapshot's signature does not verify with the deployment's key set");
  }
  // A current snapshot takes a checkpoint of the heads it carries: there is one from here on.
  const { checkpoints } = await getJson<{
    checkpoints: { checkpoint: unknown; signature: Signature }[];
  }>(baseUrl, `${audit}/checkpoints`, auditor);
  const list = await getJson<{ snapshots: { snapshot: { ptceId: string } }[] }>(
    baseUrl,
    `/v1/snapshots?asOf=${asOf}`,
    funder,
  );
  const csv = (await get(baseUrl, `/v1/snapshots?asOf=${asOf}&format=csv`, funder, 'text/csv')).text;
  const [header = '', ...rows] = csv.split('\r\n').filter((line) => line !== '');
  // Positions and signatures are the deployment's own: those columns are left out.
  const columns = header.split(',');
  const kept = columns.flatMap((name, i) => (['position', 'keyId', 'signature'].includes(name) ? [] : [i]));
  const keptOf = (line: string) => {
    const cells = line.split(',');
    return kept.map((i) => cells[i]).join(',');
  };
  const report = await get(baseUrl, `/v1/snapshots/${ptceId}/report`, funder, 'text/html');
  if (!report.type.startsWith('text/html')) throw new Error(`the report is ${report.type}`);

  return {
    // A correction happens when it is recorded: its occurredAt is the deployment's clock.
    events: paged.map((event) =>
      shared(/Corrected$/.test(event.type) ? { ...event, occurredAt: undefined } : event),
    ),
    replay: shared(await getJson(baseUrl, `${audit}/replay?asOf=${asOf}`, auditor)),
    // How many checkpoints were taken depends on the deployment's clock: the verdict does not.
    verify: (({ ok, events, heads }: { ok: boolean; events: number; heads: unknown[] }) => ({
      ok,
      events,
      heads: shared(heads),
    }))(await getJson(baseUrl, `${audit}/verify`, auditor)),
    checkpoints: {
      any: checkpoints.length > 0,
      allVerify: checkpoints.every(({ checkpoint, signature }) => verifies(checkpoint, signature, keys)),
    },
    diff: shared(await getJson(baseUrl, `${audit}/diff?from=${from}&to=${asOf}`, auditor)),
    snapshot: shared(signedSnapshot.snapshot),
    list: list.snapshots.map(({ snapshot }) => snapshot.ptceId),
    csv: [header, ...rows].map(keptOf),
    report: {
      lang: /<html lang="([^"]+)"/.exec(report.text)?.[1] ?? '',
      hasChart: report.text.includes('<svg'),
      namesKey: report.text.includes(signedSnapshot.signature.keyId),
    },
  };
}
