import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { type NewEvent, streamName } from '@ptce/events';
import { createRedis } from '@ptce/platform';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../src/cli.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-cli-rebuild-'));
const EVENT_STORE_URL = `sqlite:${path.join(dataDir, 'ptce.db')}`;
const redisUrl =
  process.env.PTCE_TEST_REDIS === 'absent' ? undefined : (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
/** This file's models only: parallel runs share the Redis server. */
const READ_MODELS_PREFIX = `ptce-test-${randomUUID()}:read:`;

const fact = (ptceId: string, type: string, occurredAt: string, data: Record<string, unknown>): NewEvent => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  ptceId,
  occurredAt,
  recordedBy: 'cli-test',
  data,
});

async function run(argv: string[], env: Record<string, string> = {}, stderrIsTty = false) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    env: { DATA_DIR: dataDir, EVENT_STORE_URL, LOG_LEVEL: 'silent', ...env },
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stderrIsTty,
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  const store = await openEventStore(EVENT_STORE_URL);
  try {
    for (const ptceId of ['alpha', 'beta', 'gamma']) {
      await store.append(
        streamName('membership', ptceId),
        [
          fact(ptceId, 'PtceRegistered', '2020-01-01', {
            name: `PTCE ${ptceId}`,
            territory: { name: 'Territoire' },
            pilot: { organisationId: 'pilote', name: 'Pilote', category: 'ess_enterprise' },
          }),
          fact(ptceId, 'MemberJoined', '2020-02-01', {
            organisationId: 'mairie',
            name: 'Mairie',
            category: 'local_authority',
          }),
        ],
        { expectedRevision: 'no_stream' },
      );
    }
  } finally {
    await store.close();
  }
});

afterAll(async () => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (!redisUrl) return;
  const redis = createRedis(redisUrl);
  await redis.connect();
  const keys = await redis.keys(`${READ_MODELS_PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('ptce projections rebuild', () => {
  test('without Redis: recomputes every model, says nothing is kept, plain progress lines off a terminal', async () => {
    const { code, stdout, stderr } = await run(['projections', 'rebuild']);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^rebuilt 3 read models of 3 PTCE from 6 events in .* \(not kept: no REDIS_URL\)\n$/,
    );
    expect(stderr).toContain('no REDIS_URL');
    // Folded in threads, the PTCE end in no set order: the last line names whichever ended last.
    expect(stderr).toMatch(/rebuild: 3\/3 PTCE, 6 events \((alpha|beta|gamma)\)\n/);
    expect(stderr).not.toContain('\r');
  });

  test('on a terminal the progress is one bar redrawn in place', async () => {
    const { code, stderr } = await run(['projections', 'rebuild'], {}, true);
    expect(code).toBe(0);
    expect(stderr).toContain('\r[##############################] 3/3 PTCE');
    expect(stderr.endsWith('\n')).toBe(true);
  });

  test('bad arguments are a usage error (exit 2)', async () => {
    expect((await run(['projections'])).code).toBe(2);
    expect((await run(['projections', 'rebuild', '--now'])).code).toBe(2);
  });

  describe.skipIf(!redisUrl)('with Redis', () => {
    const env = () => ({ REDIS_URL: redisUrl!, READ_MODELS_PREFIX });

    test('writes every model and the checkpoint where the read services find them', async () => {
      const { code, stdout } = await run(['projections', 'rebuild'], env());
      expect(code, stdout).toBe(0);
      expect(stdout).not.toContain('not kept');
      const redis = createRedis(redisUrl!);
      await redis.connect();
      try {
        const prefix = `${READ_MODELS_PREFIX}stage-rules/v1:`;
        const list = await redis.hkeys(`${prefix}list`);
        expect(list.sort()).toEqual(['alpha', 'beta', 'gamma']);
        const model = JSON.parse((await redis.get(`${prefix}model:beta`)) ?? 'null');
        expect(model).toMatchObject({ ptceId: 'beta', stage: { stage: 'individual_impulse' } });
        expect(await redis.get(`${prefix}checkpoint`)).toMatch(/^\d+$/);
        // The lock is given back once done.
        expect(await redis.get(`${prefix}projector`)).toBeNull();
      } finally {
        redis.disconnect();
      }
    });

    test('refuses (exit 1) while a projector holds the lock, writing nothing', async () => {
      const redis = createRedis(redisUrl!);
      await redis.connect();
      const prefix = `${READ_MODELS_PREFIX}stage-rules/v1:`;
      try {
        await redis.set(`${prefix}projector`, 'another-process', 'PX', 5_000);
        await redis.del(`${prefix}checkpoint`);
        const { code, stderr } = await run(['projections', 'rebuild'], env());
        expect(code).toBe(1);
        expect(stderr).toContain('a projector is active');
        expect(await redis.get(`${prefix}checkpoint`)).toBeNull();
      } finally {
        await redis.del(`${prefix}projector`);
        redis.disconnect();
      }
    });
  });
});
