import { createHash } from 'node:crypto';
import type { Guard } from '../common.ts';

/**
 * Every append holds its stream's advisory lock until it commits, and an append with
 * `alsoExpected` also holds those streams' locks, shared (appends that only check a stream need not
 * wait for each other), from before it reads their heads until it commits: none of them can move
 * between that check and the commit. Two int4 halves of SHA-256: the two-key form is a lock space
 * apart from single-bigint advisory locks (the migration's), and every process computes the same key.
 */
export function streamLockKey(stream: string): readonly [number, number] {
  const digest = createHash('sha256').update(stream).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

/**
 * BEGIN, then the locks one statement each, in key order whatever the streams: two appends
 * locking overlapping streams then wait for each other instead of deadlocking. One simple-protocol
 * round trip; the keys are integers we computed, never caller text.
 */
export function lockStatements(stream: string, guards: readonly Guard[]): string {
  const locks = new Map<string, { key: readonly [number, number]; exclusive: boolean }>();
  for (const [name, exclusive] of [
    [stream, true] as const,
    ...guards.map((g) => [g.stream, false] as const),
  ]) {
    const key = streamLockKey(name);
    const id = `${key[0]},${key[1]}`;
    // Two streams on one key (a hash collision) only share a lock; the stronger mode covers both.
    const known = locks.get(id);
    locks.set(id, { key, exclusive: exclusive || (known?.exclusive ?? false) });
  }
  const sorted = [...locks.values()].sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1]);
  return [
    'BEGIN',
    ...sorted.map(
      ({ key, exclusive }) =>
        `SELECT pg_advisory_xact_lock${exclusive ? '' : '_shared'}((${key[0]})::int, (${key[1]})::int)`,
    ),
  ].join('; ');
}

/**
 * The WHERE clause by which a single autocommit INSERT … SELECT takes its stream's lock: an
 * InitPlan, evaluated once before the first row is inserted, held until the statement commits.
 * `first` is the number of the parameter holding the key's first half, the second follows it.
 */
export function lockedInsertClause(first: number): string {
  return `WHERE (SELECT pg_advisory_xact_lock($${first}::int, $${first + 1}::int)) IS NOT NULL`;
}
