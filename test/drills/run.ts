/**
 * `pnpm drill [name]`: failure drills too long for `pnpm test`, each printing one JSON line of
 * figures on stdout (progress on stderr) and exiting 1 when what it checks does not hold.
 */
import { diskFullDrill } from './disk-full.ts';
import { mixedLoadDrill } from './mixed-load.ts';
import { postgresRestartDrill } from './postgres-restart.ts';
import { redisLossDrill } from './redis-loss.ts';
import { serverKillDrill } from './server-kill.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

const drills: Record<string, () => Promise<{ ok: boolean; figures: object }>> = {
  'server-kill': async () => {
    const figures = await serverKillDrill({
      kills: Number(process.env.DRILL_KILLS ?? 20),
      writers: 8,
      loadMs: [300, 1500],
      log: (line) => log(`server-kill: ${line}`),
    });
    return { ok: figures.lost === 0 && figures.duplicated === 0 && figures.chainsHold, figures };
  },
  'mixed-load': async () => {
    const figures = await mixedLoadDrill({
      clients: Number(process.env.DRILL_CLIENTS ?? 100),
      seconds: Number(process.env.DRILL_SECONDS ?? 60),
      readShare: 0.7,
      log: (line) => log(`mixed-load: ${line}`),
    });
    if (typeof figures === 'string') return { ok: false, figures: { skipped: figures } };
    return { ok: figures.status5xx === 0 && figures.errors === 0 && figures.requests > 0, figures };
  },
  'disk-full': async () => {
    const figures = await diskFullDrill({
      phaseMs: 10_000,
      writers: 8,
      sizeMb: 64,
      log: (line) => log(`disk-full: ${line}`),
    });
    if (typeof figures === 'string') return { ok: false, figures: { skipped: figures } };
    const ok =
      figures.unavailable > 0 &&
      figures.otherAnswersWhileFull === 0 &&
      figures.acknowledgedAfter > 0 &&
      figures.lost === 0 &&
      figures.duplicated === 0 &&
      figures.chainsHold &&
      figures.integrity === 'ok';
    return { ok, figures };
  },
  'postgres-restart': async () => {
    const figures = await postgresRestartDrill({
      phaseMs: 10_000,
      writers: 8,
      stop: 'immediate',
      log: (line) => log(`postgres-restart: ${line}`),
    });
    const ok =
      figures.unavailable > 0 &&
      figures.otherAnswersWhileDown === 0 &&
      figures.acknowledgedAfter > 0 &&
      figures.lost === 0 &&
      figures.duplicated === 0 &&
      figures.chainsHold;
    return { ok, figures };
  },
  'redis-loss': async () => {
    const figures = await redisLossDrill({
      phaseMs: 10_000,
      writers: 4,
      readers: 4,
      log: (line) => log(`redis-loss: ${line}`),
    });
    const ok =
      figures.before.failures + figures.without.failures + figures.after.failures === 0 &&
      figures.readyWithout.state === 'degraded';
    return { ok, figures };
  },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in drills));
if (unknown.length > 0) {
  log(`unknown drill(s): ${unknown.join(', ')}; available: ${Object.keys(drills).join(', ')}`);
  process.exit(2);
}
let failed = false;
for (const name of wanted.length > 0 ? wanted : Object.keys(drills)) {
  const started = performance.now();
  const { ok, figures } = await drills[name]!();
  process.stdout.write(
    `${JSON.stringify({ drill: name, ok, ...figures, drillSeconds: Math.round((performance.now() - started) / 100) / 10 })}\n`,
  );
  failed ||= !ok;
}
process.exit(failed ? 1 : 0);
