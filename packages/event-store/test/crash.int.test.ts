import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyChain } from '@ptce/events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStore } from '../src/open.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = 3;

/** Runs the child until it has acknowledged some appends, kills it at a random moment, returns the acknowledged batches. */
function killedRun(url: string, prefix: string): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'crash-child.ts'), url, prefix], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    let stderr = '';
    let armed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      if (!armed && buffer.includes('ready\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), 200 + Math.random() * 600);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child ended without being killed: ${stderr}`));
      // A line cut by the kill was never acknowledged as a whole: only complete lines count.
      const lines = buffer.split('\n').slice(0, -1);
      resolve(lines.filter((l) => l !== 'ready').map((l) => l.split(',')));
    });
  });
}

async function checkSurvivors(url: string, acknowledged: string[][]): Promise<void> {
  const store = await openEventStore(url);
  try {
    const log = await store.readAll();
    const count = new Map<string, number>();
    for (const e of log) count.set(e.eventId, (count.get(e.eventId) ?? 0) + 1);
    for (const batch of acknowledged) for (const id of batch) expect(count.get(id)).toBe(1);
    expect(count.size).toBe(log.length);
    // Every batch in the log, acknowledged or cut off before the answer, is whole.
    const batches = new Map<string, number>();
    for (const e of log) batches.set(e.correlationId!, (batches.get(e.correlationId!) ?? 0) + 1);
    for (const e of log) expect(batches.get(e.correlationId!)).toBe(e.data.size);
    expect(verifyChain(log)).toEqual({ ok: true });
  } finally {
    await store.close();
  }
}

async function crashRounds(url: string): Promise<number> {
  const acknowledged: string[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    acknowledged.push(...(await killedRun(url, 'crash')));
    await checkSurvivors(url, acknowledged);
  }
  return acknowledged.flat().length;
}

describe('crash: SIGKILL while appending', () => {
  it('sqlite keeps every acknowledged event exactly once, chains intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptce-crash-'));
    try {
      const url = `sqlite:${join(dir, 'events.db')}`;
      expect(await crashRounds(url)).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  describe('postgres', () => {
    const maintenanceUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const database = `ptce_crash_${randomBytes(6).toString('hex')}`;
    const url = new URL(maintenanceUrl);
    url.pathname = `/${database}`;
    const maintenance = async (sql: string) => {
      const client = new pg.Client({ connectionString: maintenanceUrl });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    };
    beforeAll(() => maintenance(`CREATE DATABASE ${database}`));
    afterAll(() => maintenance(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

    it('keeps every acknowledged event exactly once, chains intact', async () => {
      expect(await crashRounds(url.toString())).toBeGreaterThan(0);
    }, 60_000);
  });
});
