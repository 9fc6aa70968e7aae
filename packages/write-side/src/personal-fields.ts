import { type EventToAppend, type Ledger, recordedCategoryOf } from '@ptce/domain';
import { fieldAt, PERSONAL_FIELDS, personalSubject } from '@ptce/events';
import { ProblemError, type SealingKeys } from '@ptce/platform';

type Data = Readonly<Record<string, unknown>>;

/** The subject whose personal fields the event carries, when they are a natural person's. */
function naturalPersonOf(event: EventToAppend, ledger: Ledger, ptceId: string): string | undefined {
  const rule = PERSONAL_FIELDS[event.type];
  if (!rule?.paths.some((path) => typeof fieldAt(event.data, path) === 'string')) return undefined;
  const organisationId = rule.organisationId(event.data);
  const category = rule.category(event.data) ?? recordedCategoryOf(ledger, organisationId);
  return category === 'natural_person' ? personalSubject(ptceId, organisationId) : undefined;
}

function withValueAt(data: Data, path: readonly string[], value: unknown): Data {
  const [head, ...rest] = path;
  if (head === undefined) return data;
  return {
    ...data,
    [head]: rest.length === 0 ? value : withValueAt((data[head] ?? {}) as Data, rest, value),
  };
}

/** The natural persons whose data keys sealing these events needs. */
export function personalSubjectsOf(
  events: readonly EventToAppend[],
  ledger: Ledger,
  ptceId: string,
): string[] {
  const subjects: string[] = [];
  for (const event of events) {
    const subject = naturalPersonOf(event, ledger, ptceId);
    if (subject !== undefined) subjects.push(subject);
  }
  return subjects;
}

/**
 * The events with every personal field of a natural person sealed under its subject's key, so
 * the store, its hash chain and every copy of the log hold ciphertext only. The keys were prepared
 * from a first decision on the same ledger; a decision that now names another person (the ledger
 * moved in between) is refused with 503, to be retried, never stored in the clear.
 */
export function sealPersonalFields(
  events: readonly EventToAppend[],
  ledger: Ledger,
  ptceId: string,
  keys: SealingKeys | undefined,
): EventToAppend[] {
  return events.map((event) => {
    const subject = naturalPersonOf(event, ledger, ptceId);
    if (subject === undefined) return event;
    let data: Data = event.data;
    for (const path of PERSONAL_FIELDS[event.type]?.paths ?? []) {
      const clear = fieldAt(data, path);
      if (typeof clear !== 'string') continue;
      const sealed = keys?.seal(subject, clear);
      if (sealed === undefined) {
        throw new ProblemError(
          503,
          'personal_data_key_unavailable',
          'the history changed while this write was prepared: send it again',
        ).withHeaders({ 'retry-after': '1' });
      }
      data = withValueAt(data, path, sealed);
    }
    return { ...event, data };
  });
}
