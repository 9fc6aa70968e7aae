/**
 * `pnpm bench [group]`: runs every `test/bench/<group>.bench.ts` (or the one named), printing one
 * JSON line per figure on stdout: {"bench","value","unit","baseline","ratio"} — see report.ts for
 * the direction of `ratio`. Progress and errors go to stderr so stdout stays machine-readable.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchGroup, type Figure, ratioOf } from './report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();

const wanted = process.argv.slice(2);
const unknown = wanted.filter((g) => !available.includes(g));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench group(s): ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
  process.exitCode = 2;
} else {
  const report = (figure: Figure) => {
    const value = Math.round(figure.value * 100) / 100;
    const baseline = Math.round(figure.baseline * 100) / 100;
    const line = { bench: figure.bench, value, unit: figure.unit, baseline, ratio: ratioOf(figure) };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  for (const group of wanted.length > 0 ? wanted : available) {
    process.stderr.write(`bench group ${group}…\n`);
    const module = (await import(pathToFileURL(`${here}/${group}.bench.ts`).href)) as BenchGroup;
    await module.run(report);
  }
}
