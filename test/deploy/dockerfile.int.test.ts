import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { root, SERVICES } from './nginx.ts';

// No Docker engine runs the image here: these tests hold the Dockerfile to the repository it is
// built from, and run its scripts as the container would.

const dockerfile = fs.readFileSync(path.join(root, 'infra', 'Dockerfile'), 'utf8');
/** Instructions, their continuation lines joined, comments left out. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const runtimeStage = instructions.slice(instructions.findLastIndex((line) => line.startsWith('FROM ')));
const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  packageManager: string;
  scripts: Record<string, string>;
};

/** `.dockerignore` as Docker reads it: the last pattern that matches a path decides. */
function ignoredByDocker(relativePath: string): boolean {
  const patterns = fs
    .readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    const source = glob
      .split('/')
      .map((part) =>
        part === '**' ? '(?:.*/)?' : `${part.replace(/[.+^$()|[\]{}]/g, '\\$&').replace(/\*/g, '[^/]*')}/`,
      )
      .join('');
    // A pattern names a file or a directory, and everything beneath it.
    if (new RegExp(`^${source}`).test(`${relativePath}/`)) ignored = !negated;
  }
  return ignored;
}

function run(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('infra/Dockerfile', () => {
  test('what it copies from the build context exists, and .dockerignore lets it through', () => {
    const copied = instructions
      .filter((line) => line.startsWith('COPY ') && !line.includes('--from='))
      .flatMap((line) =>
        line
          .split(/\s+/)
          .slice(1, -1)
          .filter((arg) => !arg.startsWith('--')),
      );
    expect(copied.length).toBeGreaterThan(5);
    for (const source of copied) {
      expect({ source, exists: fs.existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: ignoredByDocker(source) }).toEqual({ source, ignored: false });
    }
    // The sources of the test package stay out of the image; its manifest goes in.
    expect(ignoredByDocker('test/e2e/split.ts')).toBe(true);
    expect(ignoredByDocker('packages/platform/node_modules/zod')).toBe(true);
  });

  test('installs with the pnpm packageManager names, from the lockfile, leaving the test package out', () => {
    expect(packageJson.packageManager).toMatch(/^pnpm@10\./);
    const installPnpm = instructions.findIndex((line) => line.startsWith('RUN npm install -g'));
    expect(instructions[installPnpm]).toContain(`require("./package.json").packageManager`);
    // package.json is in the image by then.
    const copyManifest = instructions.findIndex((line) => /^COPY package\.json /.test(line));
    expect(copyManifest).toBeGreaterThan(-1);
    expect(copyManifest).toBeLessThan(installPnpm);
    const install = instructions.find((line) => line.includes('pnpm install'));
    expect(install).toContain('--frozen-lockfile');
    const filter = /--filter '!([^']+)'/.exec(install ?? '')?.[1];
    const testManifest = JSON.parse(fs.readFileSync(path.join(root, 'test', 'package.json'), 'utf8')) as {
      name: string;
    };
    expect(filter).toBe(testManifest.name);
  });

  test('runs as an unprivileged user, on a DATA_DIR volume, healthy when ready', () => {
    expect(runtimeStage).toContain('USER node');
    expect(runtimeStage).toContain('VOLUME /data');
    expect(runtimeStage.find((line) => line.startsWith('ENV '))).toContain('DATA_DIR=/data');
    expect(runtimeStage.find((line) => line.startsWith('HEALTHCHECK '))).toContain(
      'infra/docker/healthcheck.mjs',
    );
    expect(runtimeStage.find((line) => line.startsWith('ENTRYPOINT '))).toBe(
      'ENTRYPOINT ["sh", "infra/docker/start.sh"]',
    );
  });

  test('start.sh runs the package script SERVICE names, and refuses a SERVICE that has none', async () => {
    // One of each kind (the compose test checks that every service has its start: script).
    const started = ['standalone', 'decisions'];
    const outcomes = await Promise.all(
      started.map(async (service) => {
        // An invalid PORT: the service's own configuration check answers, proving it was started.
        const { code, output } = await run('sh', ['infra/docker/start.sh'], {
          SERVICE: service,
          PORT: 'not-a-port',
        });
        return { service, code, refusedPort: output.includes('PORT must be a whole number') };
      }),
    );
    expect(outcomes).toEqual(started.map((service) => ({ service, code: 2, refusedPort: true })));
    const unknown = await run('sh', ['infra/docker/start.sh'], { SERVICE: 'billing' });
    expect(unknown).toEqual({ code: 2, output: expect.stringContaining('no package script start:billing') });
  }, 60_000);

  describe('healthcheck.mjs', () => {
    let answer: { status: number; body: unknown } = { status: 200, body: {} };
    const server = http.createServer((request, response) => {
      const ready = request.url === '/health/ready';
      response.writeHead(ready ? answer.status : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify(ready ? answer.body : {}));
    });
    let port = 0;
    beforeAll(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const check = async (status: number, body: unknown) => {
      answer = { status, body };
      return (await run(process.execPath, ['infra/docker/healthcheck.mjs'], { PORT: String(port) })).code;
    };

    test('healthy when ready or degraded (it still serves), unhealthy when down or silent', async () => {
      expect(await check(200, { status: 'up' })).toBe(0);
      expect(await check(503, { code: 'not_ready', status: 'degraded' })).toBe(0);
      expect(await check(503, { code: 'not_ready', status: 'down' })).toBe(1);
      expect((await run(process.execPath, ['infra/docker/healthcheck.mjs'], { PORT: '1' })).code).toBe(1);
    });
  });
});

describe('the compose file and the image agree', () => {
  test('every service the compose file builds, builds this Dockerfile', () => {
    const file = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { build?: { dockerfile: string } }>;
    };
    const built = Object.values(file.services).filter((service) => service.build);
    expect(built.length).toBe(SERVICES.length);
    for (const service of built)
      expect(fs.existsSync(path.join(root, service.build?.dockerfile ?? ''))).toBe(true);
  });
});
