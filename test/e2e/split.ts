import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningService {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<number | null>;
}

/**
 * Starts `services/<name>/src/main.ts` as its own process, exactly as a deployment would, and
 * resolves with the address it logged once listening.
 */
export function startService(name: string, env: Record<string, string>): Promise<RunningService> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'services', name, 'src', 'main.ts')],
    {
      cwd: root,
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nobody can stop a process never handed back: it ends here.
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start in 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (!match?.[1]) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      resolve({
        name,
        url: match[1],
        child,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Which service owns a URL of the contract: the routing table a gateway applies. */
export function owningService(urlPath: string): 'membership' | 'working-groups' | 'decisions' {
  if (/^\/v1\/ptces\/[^/]+\/(spaces|activities)(\/|$)/.test(urlPath)) return 'working-groups';
  if (/^\/v1\/ptces\/[^/]+\/decisions(\/|$)/.test(urlPath)) return 'decisions';
  return 'membership';
}
