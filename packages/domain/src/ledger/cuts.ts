import { endInstant, isDateOnly, startInstant, type ValidTime } from '@ptce/events';
import type { Fact } from './types.ts';

/** Where a replay in valid time stops. */
export type Cut =
  /** The state as of a valid time: a date includes its whole Paris day. */
  | { readonly kind: 'asOf'; readonly at: ValidTime }
  /** The state a new fact at `at` would meet: every fact ordered before it (it is appended last in the log). */
  | { readonly kind: 'before'; readonly at: ValidTime }
  | { readonly kind: 'all' };

export const ALL: Cut = Object.freeze({ kind: 'all' });

/** Valid-time order: start, then a date before an instant, then log order. */
export function compareFacts(a: Fact, b: Fact): number {
  if (a.start !== b.start) return a.start - b.start;
  if (a.isDate !== b.isDate) return a.isDate ? -1 : 1;
  return a.logIndex - b.logIndex;
}

export function cutAccepts(cut: Cut): (f: Fact) => boolean {
  switch (cut.kind) {
    case 'all':
      return () => true;
    case 'asOf': {
      const end = endInstant(cut.at);
      return (f) => f.start <= end;
    }
    case 'before': {
      const start = startInstant(cut.at);
      const date = isDateOnly(cut.at);
      // Same start: a date fact precedes anything; an instant fact precedes only an instant.
      return (f) => f.start < start || (f.start === start && (f.isDate || !date));
    }
    default: {
      const never: never = cut;
      return never;
    }
  }
}

/** Replays at a cut are cached under this key: equal cuts, one key. */
export function cutKey(cut: Cut): string {
  return cut.kind === 'all' ? 'all' : `${cut.kind}:${cut.at}`;
}
