import { expect, test } from 'vitest';
import { redisLossDrill } from '../drills/redis-loss.ts';

// The drill's short form (`pnpm drill redis-loss` runs each phase 10 s), on a Redis of its own.
test('Redis killed under load: writes and reads go on, ready says degraded, all is back with Redis', async () => {
  const figures = await redisLossDrill({ phaseMs: 2_000, writers: 2, readers: 2 });
  for (const phase of [figures.before, figures.without, figures.after]) {
    expect(phase.writes).toBeGreaterThan(0);
    expect(phase.reads).toBeGreaterThan(0);
    expect(phase.failures).toBe(0);
  }
  expect(figures.readyWithout).toMatchObject({ status: 503, state: 'degraded' });
  expect(figures.readyWithout.down).toContain('redis');
}, 180_000);
