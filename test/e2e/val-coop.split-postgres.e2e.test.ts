import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore } from '@ptce/event-store';
import { verifyChain } from '@ptce/events';
import { createRedis, loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import {
  createTempDatabase,
  failedChecks,
  failedSteps,
  runScenarioChecks,
  runScenarioSteps,
  type Scenario,
  type ScenarioRun,
  type TempDatabase,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import valCoop from '../scenarios/val-coop.json' with { type: 'json' };
import { clientAt, httpSender } from './http.ts';
import { owningService, type RunningService, startService } from './split.ts';

const scenario = valCoop as Scenario;
// The read service too: it answers the checks from what the three write processes stored.
const SERVICES = ['membership', 'working-groups', 'decisions', 'projections'] as const;

/** Redis is required under CI; elsewhere the split deployment runs without it, and says so. */
const redisUrl =
  process.env.PTCE_TEST_REDIS === 'absent' ? undefined : (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
/** The read models of this run only: parallel runs share the Redis server. */
const readModelsPrefix = `ptce-test-${randomUUID()}:read:`;

describe(`val-coop against the three write services and the read service as separate processes on PostgreSQL${redisUrl ? ' + Redis' : ' (no Redis answers: read models in memory)'}`, () => {
  let database: TempDatabase;
  let dataDir: string;
  let services: RunningService[] = [];
  let authorization: string;
  let run: ScenarioRun | undefined;

  beforeAll(async () => {
    database = await createTempDatabase('ptce_split');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-split-'));
    const env: Record<string, string> = {
      EVENT_STORE_URL: database.url,
      DATA_DIR: dataDir,
      ...(redisUrl ? { REDIS_URL: redisUrl, READ_MODELS_PREFIX: readModelsPrefix } : {}),
    };
    // The deployment's keys exist before its services start, as they would in production.
    const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('no signing key');
    authorization = `Bearer ${await mintToken(
      { sub: 'secretaire-val-coop', role: 'secretary', ptces: ['val-coop'], ttl: '1h' },
      keys.privateKey,
      config,
    )}`;
    services = await Promise.all(SERVICES.map((name) => startService(name, env)));
  }, 90_000);

  afterAll(async () => {
    const codes = await Promise.all(services.map((s) => s.stop()));
    expect(codes.every((code) => code === 0)).toBe(true);
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (redisUrl) {
      const redis = createRedis(redisUrl);
      await redis.connect();
      const keys = await redis.keys(`${readModelsPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);

  test('each service answers only its own routes', async () => {
    const membership = services.find((s) => s.name === 'membership');
    if (!membership) throw new Error('no membership service');
    // A request the working-groups service would accept: only routing can refuse it here.
    const { response, error } = await clientAt(membership.url, authorization).POST(
      '/v1/ptces/{ptceId}/spaces',
      {
        params: { path: { ptceId: 'val-coop' } },
        body: { spaceId: 'ailleurs', kind: 'strategic', name: 'Ailleurs', occurredAt: '2020-01-01' },
      },
    );
    expect(response.status).toBe(404);
    expect(error).toMatchObject({ code: 'not_found' });
  });

  test('every step answers as the scenario expects, each routed to the service that owns it', async () => {
    const urlOf = (urlPath: string) => {
      const owner = services.find((s) => s.name === owningService(urlPath));
      if (!owner) throw new Error(`no service for ${urlPath}`);
      return owner.url;
    };
    run = await runScenarioSteps(scenario, httpSender(urlOf, authorization));
    expect(failedSteps(run)).toEqual([]);

    const store = await openEventStore(database.url);
    try {
      for (const family of ['membership', 'workgroups', 'decisions']) {
        const events = await store.readStream(`${family}-val-coop`);
        expect(events.length).toBeGreaterThan(0);
        expect(verifyChain(events)).toEqual({ ok: true });
      }
      const all = await store.readAll();
      const positions = all.map((e) => e.position);
      expect([...positions].sort()).toEqual(positions);
    } finally {
      await store.close();
    }
  }, 120_000);

  test('every check of the scenario, asked of the projections process, answers what it expects', async () => {
    if (!run) throw new Error('the steps did not run');
    const projections = services.find((s) => s.name === 'projections');
    if (!projections) throw new Error('no projections service');
    const send = httpSender(() => projections.url, authorization);
    const outcomes = await runScenarioChecks(scenario.checks, run.marks, (urlPath) =>
      send({ method: 'GET', path: urlPath, body: null }),
    );
    expect(failedChecks(outcomes)).toEqual([]);
  });

  test.skipIf(!redisUrl)(
    'the read process keeps its models in Redis, and answers a current read from them',
    async () => {
      const projections = services.find((s) => s.name === 'projections');
      if (!projections || !redisUrl) throw new Error('no projections service');
      const client = clientAt(projections.url, authorization);
      const read = async () => {
        const { data, response } = await client.GET('/v1/ptces/{ptceId}/stage', {
          params: { path: { ptceId: 'val-coop' } },
        });
        if (!data) throw new Error(`stage answered ${response.status}`);
        return { status: response.status, body: data };
      };
      const redis = createRedis(redisUrl);
      await redis.connect();
      try {
        const current = await read();
        expect(current.status).toBe(200);
        // The projector commits shortly after the last write: wait for its model to hold it.
        let model: { position: string; stage: { stage: string } } | null = null;
        for (let tries = 0; tries < 100; tries++) {
          const raw = await redis.get(`${readModelsPrefix}stage-rules/v1:model:val-coop`);
          model = raw ? JSON.parse(raw) : null;
          if (model && model.position >= current.body.position) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(model?.position).toBe(current.body.position);
        expect(model?.stage.stage).toBe(current.body.stage);
        expect(await redis.get(`${readModelsPrefix}stage-rules/v1:checkpoint`)).not.toBeNull();
        expect((await read()).body).toEqual(current.body);
      } finally {
        redis.disconnect();
      }
    },
  );

  test('a departure backdated under an enrolment and that enrolment, sent at once to two services, never both succeed', async () => {
    const config = loadConfig({ EVENT_STORE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('no signing key');
    const token = `Bearer ${await mintToken(
      { sub: 'secretaire-course', role: 'secretary', ptces: ['course'], ttl: '1h' },
      keys.privateKey,
      config,
    )}`;
    const clientOf = (name: (typeof SERVICES)[number]) => {
      const service = services.find((s) => s.name === name);
      if (!service) throw new Error(`no ${name} service`);
      return clientAt(service.url, token);
    };
    const membership = clientOf('membership');
    const workingGroups = clientOf('working-groups');
    const setUp = [
      await membership.POST('/v1/ptces', {
        body: {
          ptceId: 'course',
          name: 'Course',
          territory: { name: 'T' },
          pilot: { organisationId: 'pilote', name: 'Pilote', category: 'ess_enterprise' },
          occurredAt: '2020-01-01',
        },
      }),
      await workingGroups.POST('/v1/ptces/{ptceId}/spaces', {
        params: { path: { ptceId: 'course' } },
        body: { spaceId: 'copil', kind: 'strategic', name: 'Copil', occurredAt: '2020-01-01' },
      }),
    ];
    expect(setUp.map((r) => r.response.status)).toEqual([201, 201]);

    const rounds = 20;
    const outcomes: number[][] = [];
    for (let round = 0; round < rounds; round++) {
      const org = `membre-${round}`;
      const joined = await membership.POST('/v1/ptces/{ptceId}/members', {
        params: { path: { ptceId: 'course' } },
        body: {
          organisationId: org,
          name: `Membre ${round}`,
          category: 'enterprise',
          occurredAt: '2020-01-01',
        },
      });
      expect(joined.response.status, JSON.stringify(joined.error)).toBe(201);
      // The membership service and the working-groups service each decide on what they read:
      // only the check of the stream the other one writes keeps both from being recorded.
      const [departure, enrolment] = await Promise.all([
        membership.POST('/v1/ptces/{ptceId}/members/{organisationId}/departure', {
          params: { path: { ptceId: 'course', organisationId: org } },
          body: { occurredAt: '2020-03-01' },
        }),
        workingGroups.POST('/v1/ptces/{ptceId}/spaces/{spaceId}/members', {
          params: { path: { ptceId: 'course', spaceId: 'copil' } },
          body: { organisationId: org, occurredAt: '2020-06-01' },
        }),
      ]);
      outcomes.push([departure.response.status, enrolment.response.status]);
    }
    // A departure answers 200, an enrolment 201; the one refused, 422 (it contradicts the other).
    const recorded = (status: number) => status === 200 || status === 201;
    expect(outcomes.filter(([d, e]) => recorded(d!) && recorded(e!))).toEqual([]);
    expect(outcomes.filter(([d, e]) => !recorded(d!) && !recorded(e!))).toEqual([]);
    expect(outcomes.flat().filter((s) => !recorded(s) && s !== 422)).toEqual([]);
  }, 120_000);
});
