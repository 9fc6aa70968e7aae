import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type App, ensureKeys, loadConfig, mintToken } from '@ptce/platform';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildStandalone } from '../src/server.ts';

const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-standalone-')), 'data');
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
let app: App;

beforeAll(async () => {
  app = await buildStandalone(config, { logger: false });
  await app.ready();
});
afterAll(() => app.close());

describe('buildStandalone on a fresh DATA_DIR', () => {
  test('creates the data directory, the SQLite store and the signing keys', () => {
    expect(fs.existsSync(path.join(dataDir, 'ptce.db'))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'keys', 'jwt.private.pem'))).toBe(true);
  });

  test('is ready: the event store answers, and the revoked tokens were read', async () => {
    const res = await app.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'up', checks: { eventStore: 'up', revocations: 'up' } });
  });

  test('publishes OpenAPI 3.1', async () => {
    const res = await app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().openapi).toMatch(/^3\.1\.\d+$/);
    expect(res.json().paths['/v1/me']).toBeDefined();
  });

  test('exposes Prometheus metrics', async () => {
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('# TYPE http_requests_total counter');
    expect(res.body).toContain('route="/health/ready"');
  });

  test('answers /v1/me for a token signed with the key in DATA_DIR', async () => {
    const jwt = await mintToken(
      { sub: 'marie', role: 'secretary', ptces: ['val-coop'], ttl: '5m' },
      ensureKeys(dataDir).privateKey,
      config,
    );
    const res = await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${jwt}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sub: 'marie', role: 'secretary', ptces: ['val-coop'] });
  });

  test('refuses a bad token with a 401 problem', async () => {
    const res = await app.inject({ url: '/v1/me', headers: { authorization: 'Bearer nope.nope.nope' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  test('a second start on the same DATA_DIR reuses the keys', async () => {
    const before = fs.readFileSync(path.join(dataDir, 'keys', 'jwt.private.pem'), 'utf8');
    const other = await buildStandalone(
      loadConfig({ DATA_DIR: dataDir, EVENT_STORE_URL: 'sqlite::memory:' }),
      {
        logger: false,
      },
    );
    await other.close();
    expect(fs.readFileSync(path.join(dataDir, 'keys', 'jwt.private.pem'), 'utf8')).toBe(before);
  });
});

test('main.ts logs one line on where it listens and how to mint a token, and stops on SIGTERM', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-main-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.resolve(import.meta.dirname, '../src/main.ts')],
    {
      env: { ...process.env, DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', () => reject(new Error(`main exited early: ${out}`)));
  });
  const msg: string = JSON.parse(line).msg;
  expect(msg).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
  expect(msg).toContain('pnpm --silent ptce token --role secretary --ptce <id>');
  const port = Number(/:(\d+)/.exec(msg)?.[1]);
  const status = await new Promise<number>((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: '/health/live' }, (res) => resolve(res.statusCode ?? 0))
      .on('error', reject),
  );
  expect(status).toBe(200);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
