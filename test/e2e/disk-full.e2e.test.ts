import { expect, test } from 'vitest';
import { diskFullDrill } from '../drills/disk-full.ts';

// The drill's short form (`pnpm drill disk-full` runs each phase 10 s), on a tmpfs of its own.
test("the embedded store's disk full: 503 with Retry-After, nothing half-written, writes resume with space", async (context) => {
  const figures = await diskFullDrill({ phaseMs: 2_000, writers: 2, sizeMb: 24 });
  if (typeof figures === 'string') {
    console.warn(`disk-full drill — skipped: ${figures}`);
    return context.skip();
  }
  expect(figures.acknowledgedBefore).toBeGreaterThan(0);
  expect(figures.unavailable).toBeGreaterThan(0);
  expect(figures.otherAnswersWhileFull).toBe(0);
  expect(figures.acknowledgedAfter).toBeGreaterThan(0);
  expect(figures).toMatchObject({ lost: 0, duplicated: 0, chainsHold: true, integrity: 'ok' });
}, 180_000);
