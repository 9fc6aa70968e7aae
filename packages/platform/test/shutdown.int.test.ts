import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { expect, test } from 'vitest';
import { installGracefulShutdown } from '../src/shutdown.ts';
import { testApp } from './helpers.ts';

function get(port: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: url, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('SIGTERM lets the in-flight request finish, closes, and exits 0', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/slow-server.ts')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', () => reject(new Error(`server exited early: ${stderr}`)));
  });
  expect(port).toBeGreaterThan(0);

  const slow = get(port, '/slow');
  await new Promise((resolve) => setTimeout(resolve, 200));
  child.kill('SIGTERM');

  await expect(slow).resolves.toEqual({ status: 200, body: '{"finished":true}' });
  expect(await exited).toBe(0);
  expect(stderr).toContain('onClose ran');
  await expect(get(port, '/health/live')).rejects.toThrow(/ECONNREFUSED/);
});

test('shutdown() closes the app once and reports 0 without exiting', async () => {
  const app = await testApp();
  let closes = 0;
  app.addHook('onClose', async () => {
    closes++;
  });
  const exits: number[] = [];
  const handle = installGracefulShutdown(app, { signals: ['SIGUSR2'], exit: (code) => exits.push(code) });
  const [a, b] = await Promise.all([handle.shutdown('test'), handle.shutdown('again')]);
  expect([a, b, await handle.done]).toEqual([0, 0, 0]);
  expect(closes).toBe(1);
  expect(exits).toEqual([0]);
  expect(process.listenerCount('SIGUSR2')).toBe(0);
});

test('a hook that never finishes is cut by the timeout with exit code 1', async () => {
  const app = await testApp();
  app.addHook('onClose', () => new Promise<void>(() => {}));
  const handle = installGracefulShutdown(app, { signals: [], timeoutMs: 100 });
  expect(await handle.shutdown()).toBe(1);
});
