import {
  copyActivity,
  copyDecision,
  copyPeriods,
  copySpace,
  type StateWork,
  type Table,
  type Work,
} from './apply.ts';
import type { LedgerState, LedgerWarning } from './types.ts';

/**
 * A map read through to `base` until it is first written to, then a copy of its own (one native
 * copy of the map, not of its entries); an entry is copied the first time it is got, so `apply`
 * may change it in place. `base` is never changed, and the map iterates as a copy of `base` would.
 */
export class ForkMap<K, V> implements Table<K, V>, ReadonlyMap<K, V> {
  private own: Map<K, V> | null = null;
  /** Keys whose value is the map's own (copied when got, or set). */
  private readonly mine = new Set<K>();

  constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly copy: ((v: V) => V) | null,
  ) {}

  private get read(): ReadonlyMap<K, V> {
    return this.own ?? this.base;
  }

  private get write(): Map<K, V> {
    this.own ??= new Map(this.base);
    return this.own;
  }

  get size(): number {
    return this.read.size;
  }

  get(key: K): V | undefined {
    const v = this.read.get(key);
    if (v === undefined || this.copy === null || this.mine.has(key)) return v;
    const c = this.copy(v);
    this.write.set(key, c);
    this.mine.add(key);
    return c;
  }

  has(key: K): boolean {
    return this.read.has(key);
  }

  set(key: K, value: V): this {
    this.write.set(key, value);
    this.mine.add(key);
    return this;
  }

  delete(key: K): boolean {
    if (!this.read.has(key)) return false;
    this.write.delete(key);
    this.mine.delete(key);
    return true;
  }

  entries(): MapIterator<[K, V]> {
    return this.read.entries();
  }

  keys(): MapIterator<K> {
    return this.read.keys();
  }

  values(): MapIterator<V> {
    return this.read.values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.read.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [k, v] of this.read) callback(v, k, this);
  }
}

/**
 * A replay's state seen through copy-on-write maps: facts applied to it leave `s` as it was, and
 * it reads as the state a copy of `s` would be. `warnings` replaces the state's.
 */
export function forkState(s: StateWork, warnings: LedgerWarning[]): Work & LedgerState {
  return {
    registration: s.registration,
    pilotId: s.pilotId,
    members: new ForkMap(s.members, null),
    periods: new ForkMap(s.periods, copyPeriods),
    spaces: new ForkMap(s.spaces, copySpace),
    meetings: new ForkMap(s.meetings, null),
    activities: new ForkMap(s.activities, copyActivity),
    legalEntity: s.legalEntity,
    associates: new ForkMap(s.associates, null),
    decisions: new ForkMap(s.decisions, copyDecision),
    recognitions: [...s.recognitions],
    warnings,
  };
}
