import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Operation {
  readonly operationId?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly security?: readonly unknown[];
  readonly responses: Readonly<Record<string, { readonly content?: Readonly<Record<string, unknown>> }>>;
}
interface Document {
  readonly info: { readonly license?: { readonly name: string } };
  readonly tags?: readonly { readonly name: string; readonly description?: string }[];
  readonly components: { readonly schemas: Readonly<Record<string, unknown>> };
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The name each operation has in a generated client. Renaming one breaks every client that calls
 * it: a change here is a change of the published contract, never a side effect of a URL's.
 */
const OPERATION_IDS: readonly (readonly [string, string])[] = [
  ['GET /health/live', 'getLiveness'],
  ['GET /health/ready', 'getReadiness'],
  ['GET /v1/me', 'getMe'],
  ['POST /v1/ptces', 'registerPtce'],
  ['GET /v1/ptces', 'listPtces'],
  ['POST /v1/ptces/{ptceId}/members', 'recordMemberJoin'],
  ['POST /v1/ptces/{ptceId}/members/{organisationId}/departure', 'recordMemberDeparture'],
  ['PATCH /v1/ptces/{ptceId}/members/{organisationId}', 'correctMembership'],
  ['POST /v1/ptces/{ptceId}/members/{organisationId}/erasure', 'eraseMember'],
  ['POST /v1/ptces/{ptceId}/pilot', 'handOverPilot'],
  ['POST /v1/ptces/{ptceId}/legal-entity', 'registerLegalEntity'],
  ['PATCH /v1/ptces/{ptceId}/legal-entity', 'correctLegalEntity'],
  ['POST /v1/ptces/{ptceId}/legal-entity/associates', 'admitAssociate'],
  [
    'POST /v1/ptces/{ptceId}/legal-entity/associates/{organisationId}/withdrawal',
    'recordAssociateWithdrawal',
  ],
  ['POST /v1/ptces/{ptceId}/recognitions', 'recordRecognition'],
  ['POST /v1/ptces/{ptceId}/retractions', 'retractRecord'],
  ['POST /v1/ptces/{ptceId}/imports', 'importPtceHistory'],
  ['POST /v1/ptces/{ptceId}/spaces', 'openSpace'],
  ['POST /v1/ptces/{ptceId}/spaces/{spaceId}/members', 'enrolMember'],
  ['POST /v1/ptces/{ptceId}/spaces/{spaceId}/members/{organisationId}/withdrawal', 'recordSpaceWithdrawal'],
  ['POST /v1/ptces/{ptceId}/spaces/{spaceId}/meetings', 'recordMeeting'],
  ['PATCH /v1/ptces/{ptceId}/spaces/{spaceId}/meetings/{meetingId}', 'correctMeeting'],
  ['POST /v1/ptces/{ptceId}/spaces/{spaceId}/rules', 'changeSpaceRules'],
  ['POST /v1/ptces/{ptceId}/spaces/{spaceId}/closure', 'closeSpace'],
  ['POST /v1/ptces/{ptceId}/activities', 'launchActivity'],
  ['POST /v1/ptces/{ptceId}/activities/{activityId}/carriers', 'addActivityCarrier'],
  ['POST /v1/ptces/{ptceId}/activities/{activityId}/end', 'endActivity'],
  ['POST /v1/ptces/{ptceId}/decisions', 'recordDecision'],
  ['PATCH /v1/ptces/{ptceId}/decisions/{decisionId}', 'correctDecision'],
  ['POST /v1/ptces/{ptceId}/decisions/{decisionId}/annulment', 'annulDecision'],
  ['GET /v1/ptces/{ptceId}/stage', 'getStage'],
  ['GET /v1/ptces/{ptceId}/stage/timeline', 'getStageTimeline'],
  ['GET /v1/ptces/{ptceId}', 'getPtce'],
  ['GET /v1/ptces/{ptceId}/legal-transition', 'getLegalTransition'],
  ['GET /v1/ptces/{ptceId}/eligibility', 'getEligibility'],
  ['GET /v1/ptces/{ptceId}/participation', 'getParticipation'],
  ['GET /v1/audit/ptces/{ptceId}/events', 'getAuditEvents'],
  ['GET /v1/audit/ptces/{ptceId}/replay', 'replayPtce'],
  ['GET /v1/audit/ptces/{ptceId}/diff', 'getPtceDiff'],
  ['GET /v1/audit/ptces/{ptceId}/verify', 'verifyPtce'],
  ['GET /v1/audit/ptces/{ptceId}/checkpoints', 'listCheckpoints'],
  ['GET /v1/snapshots/{ptceId}', 'getSnapshot'],
  ['GET /v1/snapshots/{ptceId}/report', 'getSnapshotReport'],
  ['GET /v1/snapshots', 'listSnapshots'],
  ['GET /.well-known/jwks.json', 'getJwks'],
];

describe('the operations of the served OpenAPI document', () => {
  let server: TestServer;
  let document: Document;
  const operations = () =>
    Object.entries(document.paths).flatMap(([route, item]) =>
      Object.entries(item).map(([method, operation]) => ({
        name: `${method.toUpperCase()} ${route}`,
        operation,
      })),
    );

  beforeAll(async () => {
    server = await startTestServer();
    document = (await server.app.inject({ method: 'GET', url: '/docs/json' })).json<Document>();
  });
  afterAll(async () => server?.close());

  it('each have a unique operationId, verb first in camelCase, the one its clients know', () => {
    const ids = operations().map(({ operation }) => operation.operationId ?? '');
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z0-9]+$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations().map(({ name, operation }) => [name, operation.operationId])).toEqual(OPERATION_IDS);
  });

  it('each have a description and tags declared, with theirs, at the top of the document', () => {
    const declared = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description ?? '']));
    for (const { name, operation } of operations()) {
      expect(operation.description?.trim(), name).toBeTruthy();
      for (const tag of operation.tags ?? []) expect(declared.get(tag), `${name} tag ${tag}`).toBeTruthy();
    }
  });

  it('document every refusal as problem+json of the one Problem component, 401 wherever a token is asked', () => {
    expect(document.components.schemas.Problem).toMatchObject({
      required: ['type', 'title', 'status', 'detail', 'code', 'instance'],
    });
    for (const { name, operation } of operations()) {
      const statuses = Object.keys(operation.responses);
      expect(
        statuses.some((code) => code.startsWith('2')),
        `${name} documents its success`,
      ).toBe(true);
      expect(statuses, name).toContain('500');
      expect(statuses.includes('401'), name).toBe(operation.security?.length !== 0);
      for (const status of statuses.filter((code) => Number(code) >= 400)) {
        expect(operation.responses[status]?.content, `${name} ${status}`).toEqual({
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        });
      }
    }
  });

  it("states the repository's licence as package.json does", () => {
    const { license } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      license: string;
    };
    expect(document.info.license).toEqual({ name: license });
  });
});
