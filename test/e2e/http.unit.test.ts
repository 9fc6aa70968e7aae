import { describe, expect, test } from 'vitest';
import { documentedCall } from './http.ts';

describe("the scenario's requests matched to the routes of the OpenAPI document", () => {
  test('path parameters are taken apart by name, a literal segment beating a parameter', () => {
    expect(documentedCall('POST', '/v1/ptces/val-coop/members/garage/departure')).toEqual({
      template: '/v1/ptces/{ptceId}/members/{organisationId}/departure',
      path: { ptceId: 'val-coop', organisationId: 'garage' },
      query: {},
    });
    expect(documentedCall('GET', '/v1/ptces/val-coop/stage/timeline').template).toBe(
      '/v1/ptces/{ptceId}/stage/timeline',
    );
  });

  test('the query is decoded, to be encoded once again by the client', () => {
    const instant = '2026-01-01T10:00:00.000Z';
    expect(
      documentedCall(
        'GET',
        `/v1/ptces/val-coop/stage?asOf=2018-01-05&knownAt=${encodeURIComponent(instant)}`,
      ),
    ).toMatchObject({ path: { ptceId: 'val-coop' }, query: { asOf: '2018-01-05', knownAt: instant } });
  });

  test('a request on no documented route, or with a method the route lacks, is refused', () => {
    expect(() => documentedCall('GET', '/v1/nowhere')).toThrow(/no route of the OpenAPI document/);
    expect(() => documentedCall('DELETE', '/v1/ptces/val-coop/members')).toThrow(/no route/);
  });
});
