import {
  copyActivity,
  copyDecision,
  copyPeriods,
  copySpace,
  type Mutable,
  type Table,
  type Work,
  type WorkActivity,
  type WorkSpace,
} from './apply.ts';
import type {
  AssociateState,
  DecisionState,
  LedgerState,
  LedgerWarning,
  MeetingState,
  MemberState,
  MembershipPeriod,
  RecognitionState,
} from './types.ts';

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

/** A state whose tables read as maps: a replay's own, or a fork of one. */
export interface ForkableState {
  readonly registration: Work['registration'];
  readonly pilotId: Work['pilotId'];
  readonly members: ReadonlyMap<string, MemberState>;
  readonly periods: ReadonlyMap<string, Mutable<MembershipPeriod>[]>;
  readonly spaces: ReadonlyMap<string, WorkSpace>;
  readonly meetings: ReadonlyMap<string, MeetingState>;
  readonly activities: ReadonlyMap<string, WorkActivity>;
  readonly legalEntity: Work['legalEntity'];
  readonly associates: ReadonlyMap<string, AssociateState>;
  readonly decisions: ReadonlyMap<string, Mutable<DecisionState>>;
  readonly recognitions: readonly RecognitionState[];
  readonly warnings: readonly LedgerWarning[];
}

/**
 * A state seen through copy-on-write maps: facts applied to it leave `s` as it was (as long as `s`
 * itself is no longer applied to), and it reads as a copy of `s` would. `warnings` replaces the
 * state's.
 */
export function forkState(s: ForkableState, warnings: LedgerWarning[]): Work & ForkableState & LedgerState {
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
