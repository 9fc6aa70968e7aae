/**
 * The standalone server's resident memory once started and idle: `node --expose-gc --import tsx
 * test/dev/idle-rss.ts`. Prints one JSON line; IDLE_RSS_MODULES=1 adds which packages got loaded,
 * to see what an import drags in.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-idle-rss-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
const app = await buildStandalone(config, { logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
await new Promise((resolve) => setTimeout(resolve, 500));
globalThis.gc?.();
globalThis.gc?.();
const mb = (n: number) => Math.round((n / 1_048_576) * 10) / 10;
const usage = process.memoryUsage();
const loaded = new Set<string>();
for (const file of Object.keys(createRequire(import.meta.url).cache)) {
  const match = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (match?.[1]) loaded.add(match[1]);
}
process.stdout.write(
  `${JSON.stringify({
    rss_mb: mb(usage.rss),
    heap_used_mb: mb(usage.heapUsed),
    external_mb: mb(usage.external),
    ...(process.env.IDLE_RSS_MODULES ? { cjs_packages: [...loaded].sort() } : {}),
  })}\n`,
);
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
