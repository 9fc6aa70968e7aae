/**
 * The embedded store's disk full: the standalone server's data directory on a small tmpfs of the
 * drill's own, filled up under writers. While it is full a write is answered 503 with Retry-After
 * (never 500), nothing half-written is left, and writes resume, without a restart, once space is
 * back. Mounting needs the right to (root here); `mountTmpfs` says why when it is refused.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { verifyPtceChains } from '@ptce/read-models';
import Database from 'better-sqlite3';
import { type RunningService, startService } from '../e2e/split.ts';

export interface DiskFullOptions {
  readonly phaseMs: number;
  readonly writers: number;
  /** Of the tmpfs. */
  readonly sizeMb: number;
  readonly log?: (line: string) => void;
}

export interface DiskFullFigures {
  readonly acknowledgedBefore: number;
  /** While the disk was full: 503 with Retry-After, any other failure (must be 0), and writes that still fit. */
  readonly unavailable: number;
  readonly otherAnswersWhileFull: number;
  readonly acknowledgedWhileFull: number;
  readonly acknowledgedAfter: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly chainsHold: boolean;
  /** SQLite's own `PRAGMA integrity_check` on the file after the drill. */
  readonly integrity: string;
}

/** A tmpfs of `sizeMb` at a new directory; a string saying why when mounting is refused. */
export function mountTmpfs(sizeMb: number): { dir: string; unmount(): void } | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-drill-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `mounting a tmpfs was refused (${stderr || (error as Error).message})`;
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes zeros into `file` until the file system has no byte left. */
function fillUp(file: string): number {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) {
      try {
        written += fs.writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        // The last bytes: smaller writes until not even one fits.
        for (let size = chunk.length / 2; size >= 1; size = Math.floor(size / 2)) {
          try {
            for (;;) written += fs.writeSync(fd, chunk, 0, size);
          } catch (inner) {
            if ((inner as NodeJS.ErrnoException).code !== 'ENOSPC') throw inner;
          }
        }
        return written;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

export async function diskFullDrill(options: DiskFullOptions): Promise<DiskFullFigures | string> {
  const log = options.log ?? (() => {});
  const disk = mountTmpfs(options.sizeMb);
  if (typeof disk === 'string') return disk;
  const dataDir = disk.dir;
  let server: RunningService | undefined;
  try {
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'info', RATE_LIMIT_MAX: '1000000' };
    server = await startService('standalone', env);
    const config = loadConfig(env);
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('the drill needs the server to have made its own keys');
    const token = await mintToken(
      { sub: 'drill', role: 'secretary', ptces: ['*'], ttl: '2h' },
      keys.privateKey,
      config,
    );
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const url = server.url;
    const registered = await fetch(`${url}/v1/ptces`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        ptceId: 'drill-disk',
        name: 'PTCE drill-disk',
        territory: { name: 'Drill' },
        pilot: { organisationId: 'pilote', name: 'Pilote', category: 'ess_enterprise' },
        occurredAt: '2020-01-01',
      }),
    });
    if (registered.status !== 201)
      throw new Error(`registering: ${registered.status} ${await registered.text()}`);

    const acknowledged: string[] = [];
    let next = 0;
    const load = async (ms: number) => {
      const end = performance.now() + ms;
      const tally = { acknowledged: 0, unavailable: 0, other: 0 };
      const writer = async () => {
        while (performance.now() < end) {
          const n = next++;
          const answer = await fetch(`${url}/v1/ptces/drill-disk/members`, {
            method: 'POST',
            headers: { ...headers, 'idempotency-key': randomUUID() },
            // A name long enough for the file to grow with every write.
            body: JSON.stringify({
              organisationId: `org-${n}`,
              name: `Organisation ${n} ${'x'.repeat(250)}`,
              category: 'enterprise',
              occurredAt: '2021-01-01',
            }),
          });
          const body = (await answer.json()) as { eventIds?: string[] };
          if (answer.status === 201) {
            acknowledged.push(...(body.eventIds ?? []));
            tally.acknowledged++;
          } else if (answer.status === 503 && answer.headers.get('retry-after') !== null) {
            tally.unavailable++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          } else {
            tally.other++;
            log(`unexpected answer ${answer.status}: ${JSON.stringify(body)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: options.writers }, writer));
      return tally;
    };

    const before = await load(options.phaseMs);
    const filler = path.join(dataDir, 'filler');
    const filled = fillUp(filler);
    log(
      `${before.acknowledged} writes acknowledged; then the disk filled with ${(filled / 1e6).toFixed(1)} MB`,
    );
    const full = await load(options.phaseMs);
    log(
      `disk full: ${full.unavailable} answered 503, ${full.acknowledged} acknowledged, ${full.other} other`,
    );
    fs.rmSync(filler);
    const after = await load(options.phaseMs);
    log(`space back: ${after.acknowledged} writes acknowledged`);
    await server.stop();
    server = undefined;

    const file = path.join(dataDir, 'ptce.db');
    const db = new Database(file, { readonly: true });
    const integrity = String(db.pragma('integrity_check', { simple: true }));
    db.close();
    const store = await openEventStore(`sqlite:${file}`);
    try {
      const seen = new Map<string, number>();
      const joined = new Map<string, number>();
      for (let from: string | undefined; ; ) {
        const page = await store.readAll({ ...(from === undefined ? {} : { after: from }), limit: 1000 });
        for (const event of page) {
          seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
          if (event.type === 'MemberJoined') {
            const id = String(event.data.organisationId);
            joined.set(id, (joined.get(id) ?? 0) + 1);
          }
        }
        if (page.length < 1000) break;
        from = page.at(-1)!.position;
      }
      return {
        acknowledgedBefore: before.acknowledged,
        unavailable: full.unavailable,
        otherAnswersWhileFull: full.other,
        acknowledgedWhileFull: full.acknowledged,
        acknowledgedAfter: after.acknowledged,
        lost: acknowledged.filter((id) => seen.get(id) !== 1).length,
        duplicated: [...joined.values()].filter((count) => count > 1).length,
        chainsHold: (await verifyPtceChains(store, 'drill-disk')).ok,
        integrity,
      };
    } finally {
      await store.close();
    }
  } finally {
    await server?.stop();
    disk.unmount();
  }
}
