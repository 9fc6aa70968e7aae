import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  // A pipe to a slow reader (an export into gzip) fills up: wait for it to drain.
  stdout: (text) =>
    process.stdout.write(text)
      ? undefined
      : new Promise<void>((resolve) => process.stdout.once('drain', () => resolve())),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
});
