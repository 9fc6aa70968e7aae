import { readFileSync } from 'node:fs';

/**
 * The V8 flags a root script runs Node with (`start`: the server's heap sizes and allocation
 * policy; `ptce`: the command line's): a bench child is started with those of the program it
 * stands for, so that its figures are those of that program as users start it. Read from the
 * root package.json, not repeated here.
 */
export function startFlags(script: 'start' | 'ptce' = 'start'): string[] {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const args = (manifest.scripts[script] ?? '').split(/\s+/);
  const flags: string[] = [];
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--import') i++;
    else if (arg.startsWith('--')) flags.push(arg);
    else break;
  }
  return flags;
}
