import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type App, loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import {
  failedChecks,
  failedSteps,
  runScenarioChecks,
  runScenarioSteps,
  type Scenario,
  type ScenarioRun,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import valCoop from '../scenarios/val-coop.json' with { type: 'json' };
import { httpSender } from './http.ts';

const scenario = valCoop as Scenario;

describe('val-coop over HTTP against the standalone server on its embedded SQLite file', () => {
  let app: App;
  let dataDir: string;
  let baseUrl: string;
  let authorization: string;
  let run: ScenarioRun | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-e2e-'));
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', PORT: '0' });
    app = await buildStandalone(config, { logger: false });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('no signing key');
    const token = await mintToken(
      { sub: 'secretaire-val-coop', role: 'secretary', ptces: ['val-coop'], ttl: '1h' },
      keys.privateKey,
      config,
    );
    authorization = `Bearer ${token}`;
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('every step answers the status (and outcome) the scenario expects', async () => {
    run = await runScenarioSteps(
      scenario,
      httpSender(() => baseUrl, authorization),
    );
    expect(failedSteps(run)).toEqual([]);
    expect(run.outcomes.length).toBe(scenario.steps.filter((s) => s.method).length);
    expect(Object.keys(run.marks)).toEqual(['beforeCorrection']);
  });

  test("every check answers what the scenario expects, the correction's mark included", async () => {
    if (!run) throw new Error('the steps did not run');
    const send = httpSender(() => baseUrl, authorization);
    const outcomes = await runScenarioChecks(scenario.checks, run.marks, (path) =>
      send({ method: 'GET', path, body: null }),
    );
    expect(outcomes).toHaveLength(scenario.checks.length);
    expect(failedChecks(outcomes)).toEqual([]);
  });

  test('what was stored verifies: one hash chain per stream, every fact recorded by the secretary', async () => {
    const { verifyChain } = await import('@ptce/events');
    for (const family of ['membership', 'workgroups', 'decisions']) {
      const events = await app.eventStore.readStream(`${family}-val-coop`);
      expect(events.length).toBeGreaterThan(0);
      expect(verifyChain(events)).toEqual({ ok: true });
      expect(new Set(events.map((e) => e.recordedBy))).toEqual(new Set(['secretaire-val-coop']));
    }
  });
});
