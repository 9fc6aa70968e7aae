import fs from 'node:fs';
import { type Client, clientFor, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

interface Step {
  readonly method: 'POST' | 'PATCH' | null;
  readonly path: string | null;
  readonly body: unknown;
  readonly expect: number | null;
  readonly expectBody?: Record<string, unknown>;
}

// The repository's copy of the shared scenario: tests never read outside the repository.
const scenario = JSON.parse(
  fs.readFileSync(new URL('../../../test/scenarios/val-coop.json', import.meta.url), 'utf8'),
) as { steps: Step[] };

let server: TestServer;
let secretary: Client;
const answers = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['val-coop']));
});
afterAll(() => server.close());

describe('val-coop over HTTP', () => {
  test('every step answers the status and body the scenario expects', async () => {
    for (const [index, step] of scenario.steps.entries()) {
      if (step.method === null || step.path === null) continue;
      const answer = await secretary.send(step.method, step.path, step.body);
      const where = `step ${index}: ${step.method} ${step.path} → ${JSON.stringify(answer.body)}`;
      expect(answer.status, where).toBe(step.expect);
      if (step.expectBody) expect(answer.body, where).toMatchObject(step.expectBody);
      if (typeof answer.body.decisionId === 'string') answers.set(answer.body.decisionId, answer.body);
    }
  });

  test('the four decisions: priorities adopted, 2020 budget without quorum, SCIC statutes adopted, extension rejected', () => {
    expect(answers.get('priorites-territoriales')).toMatchObject({
      outcome: 'adopted',
      rules: { quorum: 0.5, majority: 'simple' },
    });
    expect(answers.get('budget-2020')).toMatchObject({
      outcome: 'no_quorum',
      rules: { quorum: 0.5, majority: 'two_thirds' },
    });
    expect(answers.get('statuts-scic')).toMatchObject({
      outcome: 'adopted',
      rules: { majority: 'two_thirds' },
    });
    expect(answers.get('extension')).toMatchObject({
      outcome: 'rejected',
      rules: { majority: 'two_thirds' },
    });
  });

  test('a corrected tally flips the extension to adopted, and its stored outcome follows', async () => {
    const answer = await secretary.send('PATCH', '/v1/ptces/val-coop/decisions/extension', {
      vote: { for: 4, against: 2, abstain: 0 },
      reason: 'procès-verbal rectifié',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      decisionId: 'extension',
      outcome: 'adopted',
      rules: { quorum: 0.5, majority: 'two_thirds' },
    });
    const last = (await server.app.eventStore.readStream('decisions-val-coop')).at(-1);
    expect(last).toMatchObject({
      type: 'DecisionCorrected',
      data: { decisionId: 'extension', outcome: 'adopted' },
    });
  });
});
