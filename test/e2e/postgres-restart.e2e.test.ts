import { expect, test } from 'vitest';
import { postgresRestartDrill } from '../drills/postgres-restart.ts';

// The drill's short form (`pnpm drill postgres-restart` runs each phase 10 s), on a PostgreSQL of its own.
test('PostgreSQL dying under load: 503 with Retry-After while down, writes again when back, nothing lost or doubled', async () => {
  const figures = await postgresRestartDrill({ phaseMs: 2_000, writers: 2, stop: 'immediate' });
  expect(figures.acknowledgedBefore).toBeGreaterThan(0);
  expect(figures.unavailable).toBeGreaterThan(0);
  expect(figures.otherAnswersWhileDown).toBe(0);
  expect(figures.acknowledgedAfter).toBeGreaterThan(0);
  expect(figures).toMatchObject({ lost: 0, duplicated: 0, chainsHold: true });
}, 180_000);
