import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPtceClient } from '@ptce/client';
import { afterAll, expect, test } from 'vitest';
import { type RunningService, startService } from './split.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-snapshots-alone-'));
let service: RunningService | undefined;

afterAll(async () => {
  await service?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the snapshots service runs alone (pnpm start:snapshots) with the same URLs', async () => {
  service = await startService('snapshots', {
    DATA_DIR: dataDir,
    EVENT_STORE_URL: `sqlite:${path.join(dataDir, 'ptce.db')}`,
  });
  const client = createPtceClient({ baseUrl: service.url });
  const jwks = await client.GET('/.well-known/jwks.json');
  expect(jwks.response.status).toBe(200);
  const keys = jwks.data?.keys;
  expect(keys).toEqual([expect.objectContaining({ status: 'current' })]);
  // The key the service made on its first start is the one in the data directory.
  const current = fs.readFileSync(path.join(dataDir, 'keys', 'snapshots', 'current'), 'utf8').trim();
  expect(keys?.[0]?.kid).toBe(current);
  expect((await client.GET('/v1/snapshots')).response.status).toBe(401);
  expect(await service.stop()).toBe(0);
});
