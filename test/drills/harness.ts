/**
 * What every drill does the same way: a secretary's token for a server started on a data
 * directory, a PTCE registered, members joined under an Idempotency-Key, and the log read back
 * to count what it holds.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '@ptce/event-store';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';

/** The headers of a secretary of every PTCE, with the keys the server made in its data directory. */
export async function secretaryHeaders(env: Record<string, string>): Promise<Record<string, string>> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
  const keys = loadJwtKeys(config);
  if (!keys.privateKey) throw new Error('the drill needs the deployment to have made its own keys');
  const token = await mintToken(
    { sub: 'drill', role: 'secretary', ptces: ['*'], ttl: '2h' },
    keys.privateKey,
    config,
  );
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

export async function registerPtce(
  url: string,
  headers: Record<string, string>,
  ptceId: string,
): Promise<void> {
  const answer = await fetch(`${url}/v1/ptces`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      ptceId,
      name: `PTCE ${ptceId}`,
      territory: { name: 'Drill' },
      pilot: { organisationId: 'pilote', name: 'Pilote', category: 'ess_enterprise' },
      occurredAt: '2019-01-01',
    }),
  });
  if (answer.status !== 201)
    throw new Error(`registering ${ptceId}: ${answer.status} ${await answer.text()}`);
}

/** One member joining, under an Idempotency-Key of its own unless one is given (a resend). */
export function joinMember(
  url: string,
  headers: Record<string, string>,
  ptceId: string,
  organisationId: string,
  options: {
    readonly key?: string;
    readonly name?: string;
    readonly category?: string;
    readonly occurredAt?: string;
  } = {},
): Promise<Response> {
  return fetch(`${url}/v1/ptces/${ptceId}/members`, {
    method: 'POST',
    headers: { ...headers, 'idempotency-key': options.key ?? randomUUID() },
    body: JSON.stringify({
      organisationId,
      name: options.name ?? `Organisation ${organisationId}`,
      category: options.category ?? 'enterprise',
      occurredAt: options.occurredAt ?? '2021-01-01',
    }),
  });
}

/** How often each event id, and each (PTCE, organisation) joining, is in the log. */
export async function logTally(
  store: EventStore,
): Promise<{ readonly events: Map<string, number>; readonly joined: Map<string, number> }> {
  const events = new Map<string, number>();
  const joined = new Map<string, number>();
  for (let after: string | undefined; ; ) {
    const page = await store.readAll({ ...(after === undefined ? {} : { after }), limit: 1000 });
    for (const event of page) {
      events.set(event.eventId, (events.get(event.eventId) ?? 0) + 1);
      if (event.type === 'MemberJoined') {
        const id = `${event.ptceId}/${String(event.data.organisationId)}`;
        joined.set(id, (joined.get(id) ?? 0) + 1);
      }
    }
    if (page.length < 1000) break;
    after = page.at(-1)!.position;
  }
  return { events, joined };
}

/** Acknowledged events not in the log exactly once, and organisations joined more than once. */
export function lostAndDuplicated(
  acknowledged: Iterable<string>,
  tally: Awaited<ReturnType<typeof logTally>>,
): { readonly lost: number; readonly duplicated: number } {
  let lost = 0;
  for (const id of acknowledged) if (tally.events.get(id) !== 1) lost++;
  return { lost, duplicated: [...tally.joined.values()].filter((count) => count > 1).length };
}
