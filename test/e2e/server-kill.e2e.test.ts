import { expect, test } from 'vitest';
import { serverKillDrill } from '../drills/server-kill.ts';

// The drill's short form: `pnpm drill server-kill` kills the server 20 times.
test('the server killed during writes, 3 times: every acknowledged write once, none twice, chains whole', async () => {
  const figures = await serverKillDrill({ kills: 3, writers: 4, loadMs: [300, 800] });
  expect(figures.acknowledged).toBeGreaterThan(0);
  expect(figures).toMatchObject({ kills: 3, lost: 0, duplicated: 0, chainsHold: true });
}, 120_000);
