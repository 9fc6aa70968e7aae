import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const clientDir = path.join(root, 'packages/client');

describe('the client as an integrator installs it: compiled, run by plain Node', () => {
  let server: TestServer;
  let outDir: string;
  let baseUrl: string;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    baseUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
    token = (await server.bearer('secretary', ['build-ptce'], 'integrator')).slice('Bearer '.length);
    // Inside the package, so that the compiled code finds openapi-fetch as an installed copy would.
    outDir = fs.mkdtempSync(path.join(clientDir, 'dist-test-'));
  });
  afterAll(async () => {
    await server?.close();
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  test('the build script compiles it to JavaScript and declarations that work without TypeScript', async () => {
    await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', outDir], {
      cwd: clientDir,
    });
    expect(fs.readdirSync(outDir).sort()).toEqual(['index.d.ts', 'index.js', 'schema.d.ts', 'schema.js']);
    const script = path.join(outDir, 'call.mjs');
    fs.writeFileSync(
      script,
      `import { createPtceClient } from './index.js';
const client = createPtceClient({ baseUrl: process.argv[2], token: process.argv[3] });
const { data, response } = await client.GET('/v1/me');
console.log(JSON.stringify({ status: response.status, data }));`,
    );
    // Plain node: no tsx, no loader — what an integrator's service runs.
    const { stdout } = await run(process.execPath, [script, baseUrl, token], {
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(JSON.parse(stdout)).toEqual({
      status: 200,
      data: expect.objectContaining({ sub: 'integrator', role: 'secretary', ptces: ['build-ptce'] }),
    });
  });
});
