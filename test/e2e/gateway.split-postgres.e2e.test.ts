import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createPtceClient } from '@ptce/client';
import { createRedis, loadConfig, loadJwtKeys, loadKeyEncryptionKey, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
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
import {
  nginxBinary,
  type RunningGateway,
  SERVICES,
  type ServiceName,
  startGateway,
} from '../deploy/nginx.ts';
import valCoop from '../scenarios/val-coop.json' with { type: 'json' };
import { auditTour } from './audit-tour.ts';
import { clientAt, httpSender } from './http.ts';
import { type RunningService, startService } from './split.ts';

const scenario = valCoop as Scenario;
const nginx = nginxBinary();
if (!nginx && process.env.CI === 'true')
  throw new Error('CI=true: no nginx binary (/usr/sbin/nginx or on PATH)');
if (!nginx) process.stdout.write('gateway e2e: no nginx binary (apt-get install nginx): skipped\n');

const redisUrl =
  process.env.PTCE_TEST_REDIS === 'absent' ? undefined : (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
/** This run's read models only: parallel runs share the Redis server. */
const readModelsPrefix = `ptce-test-${randomUUID()}:read:`;
/** High enough that the other tests' traffic from 127.0.0.1, counted in the same Redis, never limits this one. */
const RATE_LIMIT_MAX = 100_000;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A GET from another address of the loopback range, as another client of the gateway would send it. */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { localAddress, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    request.on('error', reject);
  });
}

const routeKeys = (document: { paths: Record<string, Record<string, unknown>> }) =>
  Object.entries(document.paths)
    .flatMap(([route, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${route}`),
    )
    .sort();

describe.skipIf(!nginx)(
  `val-coop through nginx, the six services as separate processes on PostgreSQL${redisUrl ? ' + Redis' : ''}`,
  () => {
    let database: TempDatabase | undefined;
    let dataDir: string;
    const services: RunningService[] = [];
    let gateway: RunningGateway | undefined;
    let authorization: string;
    let auditorAuthorization: string;
    let run: ScenarioRun | undefined;

    beforeAll(async () => {
      database = await createTempDatabase('ptce_gateway');
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-gateway-e2e-'));
      const env: Record<string, string> = {
        EVENT_STORE_URL: database.url,
        DATA_DIR: dataDir,
        RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
        // nginx connects from 127.0.0.1 only; the clients below come from elsewhere in 127.0.0.0/8.
        TRUST_PROXY: '127.0.0.1',
        ...(redisUrl ? { REDIS_URL: redisUrl, READ_MODELS_PREFIX: readModelsPrefix } : {}),
      };
      // The deployment's keys exist before its services start, as they would from a mounted secret.
      const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
      const keys = loadJwtKeys(config);
      loadKeyEncryptionKey({ file: config.PERSONAL_DATA_KEY_FILE });
      if (!keys.privateKey) throw new Error('no signing key');
      authorization = `Bearer ${await mintToken(
        { sub: 'secretaire-val-coop', role: 'secretary', ptces: ['val-coop'], ttl: '1h' },
        keys.privateKey,
        config,
      )}`;
      auditorAuthorization = `Bearer ${await mintToken(
        { sub: 'commissaire-val-coop', role: 'auditor', ptces: ['val-coop'], ttl: '1h' },
        keys.privateKey,
        config,
      )}`;
      const others = SERVICES.filter((name) => name !== 'membership');
      // Every start settled before going on, each started one kept: afterAll stops them all even
      // when another failed.
      const started = await Promise.allSettled(others.map((name) => startService(name, env)));
      for (const result of started) if (result.status === 'fulfilled') services.push(result.value);
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      const upstreams = services.map((s) => `${s.name}=${s.url}`).join(',');
      services.push(await startService('membership', { ...env, UPSTREAMS: upstreams }));
      const hostPort = Object.fromEntries(services.map((s) => [s.name, new URL(s.url).host])) as Record<
        ServiceName,
        string
      >;
      if (!nginx) throw new Error('no nginx');
      gateway = await startGateway(nginx, hostPort);
    }, 120_000);

    afterAll(async () => {
      await gateway?.stop();
      const codes = await Promise.all(services.map((s) => s.stop()));
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (redisUrl) {
        const redis = createRedis(redisUrl);
        await redis.connect();
        const keys = await redis.keys(`${readModelsPrefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
      expect(codes.every((code) => code === 0)).toBe(true);
    }, 60_000);

    test('every step of the scenario, sent to the one port of the gateway, answers as expected', async () => {
      if (!gateway) throw new Error('no gateway');
      const url = gateway.url;
      run = await runScenarioSteps(
        scenario,
        httpSender(() => url, authorization),
      );
      expect(failedSteps(run)).toEqual([]);
    }, 120_000);

    test('every check of the scenario, asked of the gateway, answers what it expects', async () => {
      if (!run || !gateway) throw new Error('the steps did not run');
      const send = httpSender(() => gateway?.url ?? '', authorization);
      const outcomes = await runScenarioChecks(scenario.checks, run.marks, (urlPath) =>
        send({ method: 'GET', path: urlPath, body: null }),
      );
      expect(outcomes).toHaveLength(scenario.checks.length);
      expect(failedChecks(outcomes)).toEqual([]);
    }, 60_000);

    test('the audit log streams through the gateway as NDJSON, one event a line', async () => {
      if (!run || !gateway) throw new Error('the steps did not run');
      const { data, response } = await clientAt(gateway.url, auditorAuthorization).GET(
        '/v1/audit/ptces/{ptceId}/events',
        {
          params: { path: { ptceId: 'val-coop' } },
          headers: { accept: 'application/x-ndjson' },
          parseAs: 'text',
        },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('application/x-ndjson');
      const lines = (data ?? '').trimEnd().split('\n');
      expect(lines.length).toBeGreaterThan(10);
      expect(lines.map((line) => (JSON.parse(line) as { stream: string }).stream)).toContain(
        'membership-val-coop',
      );
    });

    test('every Audit and Snapshots route answers through the gateway what the standalone server answers of the same history', async () => {
      if (!run || !gateway) throw new Error('the steps did not run');
      const tourOf = { ptceId: 'val-coop', from: '2016-01-01', asOf: '2021-01-05' };
      const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      const privateKey = loadJwtKeys(config).privateKey;
      if (!privateKey) throw new Error('no signing key');
      const funder = await mintToken(
        { sub: 'financeur-val-coop', role: 'funder', ptces: ['val-coop'], ttl: '1h' },
        privateKey,
        config,
      );
      const split = await auditTour(gateway.url, {
        ...tourOf,
        auditor: auditorAuthorization.replace(/^Bearer /, ''),
        funder,
      });

      const standaloneDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-gateway-standalone-'));
      const standaloneConfig = loadConfig({ DATA_DIR: standaloneDir, LOG_LEVEL: 'silent' });
      const standalone = await buildStandalone(standaloneConfig, { logger: false });
      try {
        const url = await standalone.listen({ host: '127.0.0.1', port: 0 });
        const key = loadJwtKeys(standaloneConfig).privateKey;
        if (!key) throw new Error('no signing key');
        const token = (role: 'secretary' | 'auditor' | 'funder', sub: string) =>
          mintToken({ sub, role, ptces: ['val-coop'], ttl: '1h' }, key, standaloneConfig);
        const steps = await runScenarioSteps(
          scenario,
          httpSender(() => url, `Bearer ${await token('secretary', 'secretaire-val-coop')}`),
        );
        expect(failedSteps(steps)).toEqual([]);
        const alone = await auditTour(url, {
          ...tourOf,
          auditor: await token('auditor', 'commissaire-val-coop'),
          funder: await token('funder', 'financeur-val-coop'),
        });
        expect(split).toEqual(alone);
      } finally {
        await standalone.close();
        fs.rmSync(standaloneDir, { recursive: true, force: true });
      }
      expect(split.verify).toMatchObject({ ok: true });
      expect(split.checkpoints).toEqual({ any: true, allVerify: true });
      expect(split.list).toEqual(['val-coop']);
      expect(split.csv).toHaveLength(2);
      expect(split.report).toEqual({ lang: 'fr', hasChart: true, namesKey: true });
    }, 120_000);

    test('Idempotency-Key and If-None-Match reach the services through the gateway', async () => {
      if (!run || !gateway) throw new Error('the steps did not run');
      const client = clientAt(gateway.url, authorization);
      const join = async (name: string) => {
        const { data, error, response } = await client.POST('/v1/ptces/{ptceId}/members', {
          params: { path: { ptceId: 'val-coop' }, header: { 'idempotency-key': 'gateway-join-1' } },
          body: {
            organisationId: 'passe-par-la-passerelle',
            name,
            category: 'enterprise',
            occurredAt: '2024-01-15',
          },
        });
        return { status: response.status, body: data ?? error };
      };
      const first = await join('Passe par la passerelle');
      expect(first.status).toBe(201);
      // The retry is answered from the key's record: the same answer, nothing recorded twice.
      expect(await join('Passe par la passerelle')).toEqual(first);
      // Another request under the same key is refused, which only the key, forwarded, can tell.
      expect(await join('Un autre nom')).toMatchObject({
        status: 422,
        body: { code: 'idempotency_key_reused' },
      });

      const stage = { params: { path: { ptceId: 'val-coop' } } };
      const current = await client.GET('/v1/ptces/{ptceId}/stage', stage);
      const etag = current.response.headers.get('etag');
      expect(etag).toBeTruthy();
      const unchanged = await client.GET('/v1/ptces/{ptceId}/stage', {
        ...stage,
        headers: { 'if-none-match': etag ?? '' },
      });
      expect(unchanged.response.status).toBe(304);
    });

    test('/health/ready at the gateway reports every service', async () => {
      if (!gateway) throw new Error('no gateway');
      // The document gives this answer no schema yet, so the client types it as nothing: cast it.
      const { data, response } = await createPtceClient({ baseUrl: gateway.url }).GET('/health/ready');
      const body = data as unknown as { status: string; services: Record<string, { status: string }> };
      expect(response.status).toBe(200);
      expect(body.status).toBe('up');
      expect(Object.keys(body.services).sort()).toEqual([...SERVICES].sort());
      for (const name of SERVICES) {
        expect(body.services[name]).toMatchObject({
          status: 'up',
          checks: { eventStore: 'up', ...(redisUrl ? { redis: 'up' } : {}) },
        });
      }
    });

    test('/docs/json at the gateway is one document of every route the standalone server describes', async () => {
      const response = await fetch(`${gateway?.url}/docs/json`);
      expect(response.status).toBe(200);
      const merged = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
      const standaloneDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-gateway-standalone-'));
      try {
        const standalone = await buildStandalone(
          loadConfig({ DATA_DIR: standaloneDir, LOG_LEVEL: 'silent' }),
          {
            logger: false,
          },
        );
        try {
          await standalone.ready();
          expect(routeKeys(merged)).toEqual(
            routeKeys(standalone.swagger() as { paths: Record<string, Record<string, unknown>> }),
          );
        } finally {
          await standalone.close();
        }
      } finally {
        fs.rmSync(standaloneDir, { recursive: true, force: true });
      }
      // The documentation page is served at the gateway too, and reads that document.
      const page = await fetch(`${gateway?.url}/docs/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('swagger');
    });

    test('behind the gateway, a service counts each client by its own address, not by the forwarded claim', async () => {
      if (!gateway) throw new Error('no gateway');
      // Addresses no other test uses: their counters start at this run.
      const prefix = `127.${randomInt(1, 255)}.${randomInt(0, 255)}`;
      const first = `${prefix}.1`;
      const second = `${prefix}.2`;
      const url = `${gateway.url}/v1/me`;
      const remaining = (answer: Answer) => Number(answer.headers['x-ratelimit-remaining']);

      const a1 = await getFrom(first, url, { authorization });
      expect(a1.status).toBe(200);
      expect(remaining(a1)).toBe(RATE_LIMIT_MAX - 1);
      // A client claiming to be the first one is still itself: nginx appends the address it saw.
      const b1 = await getFrom(second, url, { authorization, 'x-forwarded-for': first });
      expect(remaining(b1)).toBe(RATE_LIMIT_MAX - 1);
      const a2 = await getFrom(first, url, { authorization });
      expect(remaining(a2)).toBe(RATE_LIMIT_MAX - 2);
    });

    test('what the gateway answers itself is problem+json: unknown paths and /metrics, scraped from each service', async () => {
      for (const urlPath of ['/metrics', '/v1/nowhere']) {
        const response = await fetch(`${gateway?.url}${urlPath}`);
        expect(response.status).toBe(404);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(await response.json()).toMatchObject({ code: 'not_found', status: 404, instance: urlPath });
      }
      const membership = services.find((s) => s.name === 'membership');
      expect((await fetch(`${membership?.url}/metrics`)).status).toBe(200);
    });

    test('an import through the gateway: membership writes its lines and forwards the others to the services that own them', async () => {
      if (!gateway) throw new Error('no gateway');
      const ptceId = 'val-coop-import';
      // The same history under another PTCE id: every path and the registration's ptceId.
      const renamed = (text: string) => text.replaceAll('/v1/ptces/val-coop/', `/v1/ptces/${ptceId}/`);
      const writes = scenario.steps.filter((step) => step.method !== null && step.path !== null);
      const file = writes
        .map((step) =>
          renamed(
            JSON.stringify({
              method: step.method,
              path: step.path,
              body: step.path === '/v1/ptces' ? { ...(step.body as object), ptceId } : step.body,
            }),
          ),
        )
        .join('\n');
      const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      const privateKey = loadJwtKeys(config).privateKey;
      if (!privateKey) throw new Error('no signing key');
      const importer = `Bearer ${await mintToken(
        { sub: 'secretaire-import', role: 'secretary', ptces: [ptceId], ttl: '1h' },
        privateKey,
        config,
      )}`;
      const post = (query = '') =>
        fetch(`${gateway?.url}/v1/ptces/${ptceId}/imports${query}`, {
          method: 'POST',
          headers: { authorization: importer, 'content-type': 'application/x-ndjson' },
          body: file,
        });
      // A dry run decides every line in one process: split, the other services' lines cannot be.
      const dry = await post('?dryRun=true');
      expect(dry.status).toBe(501);
      expect(((await dry.json()) as { code: string }).code).toBe('dry_run_needs_every_service');

      const response = await post();
      expect(response.status).toBe(200);
      const report = (await response.json()) as {
        results: { status: number; result?: { eventIds?: unknown[] } }[];
      };
      expect(report.results.map((r) => r.status)).toEqual(writes.map((s) => s.expect));
      // Sent again, every line answers as before and nothing is recorded twice.
      const again = (await (await post()).json()) as { recorded: number; replayed: number };
      expect(again.recorded).toBe(0);
      expect(again.replayed).toBe(writes.filter((s) => (s.expect ?? 0) < 400).length);

      const send = httpSender(() => gateway?.url ?? '', importer);
      const checks = scenario.checks
        .filter((check) => !check.path.includes('{{'))
        .map((check) => ({ ...check, path: renamed(check.path) }));
      const outcomes = await runScenarioChecks(checks, {}, (urlPath) =>
        send({ method: 'GET', path: urlPath, body: null }),
      );
      expect(failedChecks(outcomes)).toEqual([]);
    }, 120_000);
  },
);
