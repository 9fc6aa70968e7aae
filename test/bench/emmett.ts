/**
 * The peer to beat: Emmett's PostgreSQL event store (`@event-driven-io/emmett-postgresql`) on the
 * workload of `store.append.postgres.c16` — 16 concurrent writers, each owning its streams, one
 * event per append with the expected stream version.
 */
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';

export async function appendEmmettPostgres(
  url: string,
  writers: number,
  seconds: number,
  data: (i: number) => Record<string, unknown>,
): Promise<number> {
  // Our own pool, the same size as the store's in `store.append.postgres.c16`, so that both get
  // 16 connections and the test database can be dropped without an idle client crashing us.
  const pool = new pg.Pool({ connectionString: url, max: writers });
  pool.on('error', () => {});
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pooled: true, pool } });
  try {
    // Emmett creates its schema on first use: do it before the clock starts.
    await store.appendToStream('warm-up', [{ type: 'MemberJoined', data: data(0) }]);
    const versions = new Map<string, bigint>();
    const end = performance.now() + seconds * 1000;
    const start = performance.now();
    const counts = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        let i = 0;
        while (performance.now() < end) {
          const stream = `emmett-w${w}-${i % 4}`;
          const version = versions.get(stream);
          const result = await store.appendToStream(stream, [{ type: 'MemberJoined', data: data(i) }], {
            expectedStreamVersion: version ?? 'STREAM_DOES_NOT_EXIST',
          });
          versions.set(stream, result.nextExpectedStreamVersion);
          i++;
        }
        return i;
      }),
    );
    return counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
  } finally {
    await store.close();
    await pool.end();
  }
}
