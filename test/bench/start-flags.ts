import { readFileSync } from 'node:fs';

/**
 * The V8 flags `pnpm start` runs the server with (its heap sizes, its allocation policy): a
 * server child of a bench is started with them, so that its figures are those of the server as
 * users start it. Read from the root start script, not repeated here.
 */
export function startFlags(): string[] {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const args = (manifest.scripts.start ?? '').split(/\s+/);
  const flags: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--import') i++;
    else if (arg.startsWith('--')) flags.push(arg);
    else break;
  }
  return flags;
}
