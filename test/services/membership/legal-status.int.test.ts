import {
  type Client,
  clientFor,
  expectProblem,
  expectWritten,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let secretary: Client;
let counter = 0;

const membershipEvents = (ptceId: string) => server.app.eventStore.readStream(`membership-${ptceId}`);

/** A PTCE whose pilot's legal status is given at registration. */
async function registered(): Promise<string> {
  counter += 1;
  const ptceId = `status-${counter}`;
  const answer = await secretary.send('POST', '/v1/ptces', {
    ptceId,
    name: `PTCE ${ptceId}`,
    territory: { name: 'Pays test' },
    pilot: {
      organisationId: 'sem',
      name: 'SEM du Val',
      category: 'other_legal_person',
      legalStatus: 'public',
    },
    occurredAt: '2020-01-01',
  });
  expectWritten(answer, 201, { ptceId });
  return ptceId;
}

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
});
afterAll(() => server.close());

describe('legalStatus on members', () => {
  test("the registration stores the pilot's legal status", async () => {
    const ptceId = await registered();
    const [event] = await membershipEvents(ptceId);
    expect(event).toMatchObject({
      type: 'PtceRegistered',
      data: { pilot: { organisationId: 'sem', category: 'other_legal_person', legalStatus: 'public' } },
    });
  });

  test('a join stores the legal status given, and nothing when none is given', async () => {
    const ptceId = await registered();
    const withStatus = await secretary.send('POST', `/v1/ptces/${ptceId}/members`, {
      organisationId: 'lab',
      name: 'Laboratoire',
      category: 'research_higher_education',
      legalStatus: 'public',
      occurredAt: '2020-02-01',
    });
    expectWritten(withStatus, 201, { ptceId, organisationId: 'lab' });
    const without = await secretary.send('POST', `/v1/ptces/${ptceId}/members`, {
      organisationId: 'garage',
      name: 'Garage',
      category: 'enterprise',
      occurredAt: '2020-02-01',
    });
    expectWritten(without, 201, { ptceId, organisationId: 'garage' });
    const [, lab, garage] = await membershipEvents(ptceId);
    expect(lab?.data).toEqual({
      organisationId: 'lab',
      name: 'Laboratoire',
      category: 'research_higher_education',
      legalStatus: 'public',
    });
    expect(garage?.data).not.toHaveProperty('legalStatus');
  });

  test('the member PATCH corrects the legal status alone', async () => {
    const ptceId = await registered();
    const joined = await secretary.send('POST', `/v1/ptces/${ptceId}/members`, {
      organisationId: 'garage',
      name: 'Garage',
      category: 'enterprise',
      occurredAt: '2020-02-01',
    });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    const answer = await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/garage`, {
      legalStatus: 'public',
      reason: 'société publique locale',
    });
    expectWritten(answer, 200, { ptceId, organisationId: 'garage' });
    const events = await membershipEvents(ptceId);
    expect(events.at(-1)).toMatchObject({
      type: 'MembershipCorrected',
      data: {
        organisationId: 'garage',
        fields: { legalStatus: 'public' },
        reason: 'société publique locale',
      },
    });
  });

  test('400 for a legal status other than public or private, on each route', async () => {
    const ptceId = await registered();
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/members`, {
        organisationId: 'x',
        name: 'X',
        category: 'enterprise',
        legalStatus: 'mixed',
        occurredAt: '2020-02-01',
      }),
      400,
      'validation_failed',
    );
    expectProblem(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/sem`, { legalStatus: 'mixed', reason: 'r' }),
      400,
      'validation_failed',
    );
    expectProblem(
      await secretary.send('POST', '/v1/ptces', {
        ptceId: `${ptceId}-bis`,
        name: 'Bis',
        territory: { name: 'T' },
        pilot: { organisationId: 'a', name: 'A', category: 'enterprise', legalStatus: 'mixed' },
        occurredAt: '2020-01-01',
      }),
      400,
      'validation_failed',
    );
  });
});
