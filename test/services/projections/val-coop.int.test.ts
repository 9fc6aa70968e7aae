import fs from 'node:fs';
import {
  failedChecks,
  failedSteps,
  runScenarioChecks,
  runScenarioSteps,
  type Scenario,
  type ScenarioRun,
  type Send,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// The repository's copy of the shared scenario: tests never read outside the repository.
const scenario = JSON.parse(
  fs.readFileSync(new URL('../../../test/scenarios/val-coop.json', import.meta.url), 'utf8'),
) as Scenario;

/** The checks whose path this service answers: every one of the scenario's. */
const ANSWERED =
  /^\/v1\/ptces\/[^/?]+\/(stage|stage\/timeline|legal-transition|eligibility|participation)(\?|$)/;

let server: TestServer;
let run: ScenarioRun;
let authorization: string;

const send: Send = async ({ method, path, body }) => {
  const res = await server.app.inject({
    method: method as 'POST',
    url: path,
    headers: { authorization },
    ...(body === null || body === undefined ? {} : { payload: body as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : null };
};
const get = async (path: string) => send({ method: 'GET', path, body: null });

beforeAll(async () => {
  server = await startTestServer();
  authorization = await server.bearer('secretary', ['val-coop']);
  run = await runScenarioSteps(scenario, send);
});
afterAll(() => server.close());

describe('val-coop read back through the projections service', () => {
  test('the steps are recorded as the scenario expects', () => {
    expect(failedSteps(run)).toEqual([]);
    expect(Object.keys(run.marks)).toEqual(['beforeCorrection']);
  });

  test('every stage, timeline, legal-transition, eligibility and participation check of the scenario answers what it expects', async () => {
    const checks = scenario.checks.filter((check) => ANSWERED.test(check.path));
    expect(checks).toHaveLength(scenario.checks.length);
    const outcomes = await runScenarioChecks(checks, run.marks, get);
    expect(failedChecks(outcomes)).toEqual([]);
  });

  test('an auditor reads the same stage answer as the secretary', async () => {
    const current = await get('/v1/ptces/val-coop/stage?asOf=2019-03-01');
    const position = (current.body as { position: string }).position;
    const url = `/v1/ptces/val-coop/stage?asOf=2019-03-01&atPosition=${position}`;
    const asSecretary = await get(url);
    expect(asSecretary.body).toMatchObject({ stage: 'collective_group', position, knownAt: null });
    authorization = await server.bearer('auditor', ['val-coop']);
    try {
      expect(await get(url)).toEqual(asSecretary);
    } finally {
      authorization = await server.bearer('secretary', ['val-coop']);
    }
  });
});
