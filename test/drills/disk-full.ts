/**
 * The embedded store's disk full: the standalone server's data directory on a small tmpfs of the
 * drill's own, filled up under writers. While it is full a write is answered 503 with Retry-After
 * (never 500), nothing half-written is left, and writes resume, without a restart, once space is
 * back. Mounting needs the right to (root here); `mountTmpfs` says why when it is refused.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { verifyPtceChains } from '@ptce/read-models';
import Database from 'better-sqlite3';
import { type RunningService, startService } from '../e2e/split.ts';
import { joinMember, logTally, lostAndDuplicated, registerPtce, secretaryHeaders } from './harness.ts';

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
    const headers = await secretaryHeaders(env);
    const url = server.url;
    await registerPtce(url, headers, 'drill-disk');

    const acknowledged: string[] = [];
    let next = 0;
    const load = async (ms: number) => {
      const end = performance.now() + ms;
      const tally = { acknowledged: 0, unavailable: 0, other: 0 };
      const writer = async () => {
        while (performance.now() < end) {
          const n = next++;
          // A name long enough for the file to grow with every write.
          const answer = await joinMember(url, headers, 'drill-disk', `org-${n}`, {
            name: `Organisation ${n} ${'x'.repeat(250)}`,
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
      const counted = lostAndDuplicated(acknowledged, await logTally(store));
      return {
        acknowledgedBefore: before.acknowledged,
        unavailable: full.unavailable,
        otherAnswersWhileFull: full.other,
        acknowledgedWhileFull: full.acknowledged,
        acknowledgedAfter: after.acknowledged,
        ...counted,
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
