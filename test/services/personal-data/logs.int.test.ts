/**
 * What a server writes about a natural person: no log line, at the most verbose level, and no
 * metric carries their name, whatever the request does (recorded, refused, read, erased).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import { expect, test } from 'vitest';

test('no log line nor metric names a natural person, whatever happens to the request', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-logs-'));
  const lines: string[] = [];
  const config = loadConfig({
    DATA_DIR: dir,
    LOG_LEVEL: 'trace',
    EVENT_STORE_URL: 'sqlite::memory:',
    RATE_LIMIT_MAX: '100000',
  });
  const app = await buildStandalone(config, {
    logger: { stream: { write: (line: string) => lines.push(line) } },
  });
  try {
    await app.ready();
    const keys = loadJwtKeys(config);
    const token = async (role: 'admin' | 'secretary') =>
      `Bearer ${await mintToken({ sub: `${role}-1`, role, ptces: ['*'], ttl: '1h' }, keys.privateKey!, config)}`;
    const secretary = { authorization: await token('secretary') };
    const name = `Sacha Confidentiel ${randomUUID()}`;
    const post = (url: string, payload: object, headers: Record<string, string> = secretary) =>
      app.inject({ method: 'POST', url, payload, headers });
    expect(
      (
        await post('/v1/ptces', {
          ptceId: 'logs',
          name: 'PTCE logs',
          territory: { name: 'Pays' },
          pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
          occurredAt: '2020-01-01',
        })
      ).statusCode,
    ).toBe(201);
    const person = { organisationId: 'citoyen', name, category: 'natural_person', occurredAt: '2020-02-01' };
    expect(
      (await post('/v1/ptces/logs/members', person, { ...secretary, 'idempotency-key': 'k1' })).statusCode,
    ).toBe(201);
    // Refused three ways: a conflict, a body the schema refuses, an Idempotency-Key reused with another body.
    expect((await post('/v1/ptces/logs/members', person)).statusCode).toBe(409);
    expect(
      (await post('/v1/ptces/logs/members', { ...person, organisationId: 'x', name: `${name}\u0000` }))
        .statusCode,
    ).toBe(400);
    expect(
      (
        await post(
          '/v1/ptces/logs/members',
          { ...person, organisationId: 'y' },
          { ...secretary, 'idempotency-key': 'k1' },
        )
      ).statusCode,
    ).toBe(422);
    const read = await app.inject({ url: '/v1/ptces/logs', headers: secretary });
    expect(read.body).toContain(name);
    const erased = await post(
      '/v1/ptces/logs/members/citoyen/erasure',
      { reason: 'demande RGPD' },
      { authorization: await token('admin') },
    );
    expect(erased.statusCode).toBe(200);
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);

    expect(lines.length).toBeGreaterThan(10);
    expect(lines.join('')).not.toContain('Sacha');
    expect(metrics.body).not.toContain('Sacha');
  } finally {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
