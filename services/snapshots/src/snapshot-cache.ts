import type { SignedSnapshot } from './schemas.ts';

/** A signed snapshot as made once, with the JSON of its answer up to where `generatedAt` goes. */
export interface MadeSnapshot extends Pick<SignedSnapshot, 'snapshot' | 'signature'> {
  /** `{"snapshot":…,"signature":…` — the answer's JSON without its closing brace. */
  readonly json: string;
}

/** The snapshots most recently asked for, the least recently asked let go first. */
export class SignedSnapshotCache {
  private readonly entries = new Map<string, MadeSnapshot>();

  constructor(private readonly capacity: number) {}

  get(key: string): MadeSnapshot | undefined {
    const found = this.entries.get(key);
    if (found) {
      // A Map keeps insertion order: deleted and set again, the entry is the most recent.
      this.entries.delete(key);
      this.entries.set(key, found);
    }
    return found;
  }

  set(key: string, snapshot: MadeSnapshot): void {
    this.entries.delete(key);
    this.entries.set(key, snapshot);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
