/**
 * The server side of `pnpm bench write`, in a process of its own so that the load generator
 * does not share its event loop: the standalone server on a SQLite file (durable appends,
 * synchronous=FULL) and, in the same process, the baseline — a bare Fastify POST route that
 * parses the same body and does a raw better-sqlite3 INSERT with the same durability.
 * Talks to the parent over IPC.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const send = (message: unknown) => process.send?.(message);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-bench-write-'));
const config = loadConfig({
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  RATE_LIMIT_MAX: '1000000',
});
const app = await buildStandalone(config, { logger: false });
const ledgerUrl = await app.listen({ host: '127.0.0.1', port: 0 });

const raw = new Database(path.join(dataDir, 'baseline.db'));
raw.pragma('journal_mode = WAL');
raw.pragma('synchronous = FULL');
raw.exec(`CREATE TABLE members (id INTEGER PRIMARY KEY AUTOINCREMENT, ptce_id TEXT NOT NULL,
  organisation_id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (ptce_id, organisation_id))`);
const insert = raw.prepare('INSERT INTO members (ptce_id, organisation_id, body) VALUES (?, ?, ?)');
const bare = Fastify({ logger: false, bodyLimit: 1_048_576 });
bare.post<{ Params: { ptceId: string }; Body: { organisationId: string } }>(
  '/v1/ptces/:ptceId/members',
  async (request, reply) => {
    insert.run(request.params.ptceId, request.body.organisationId, JSON.stringify(request.body));
    return reply.code(201).send({ ok: true });
  },
);
const baselineUrl = await bare.listen({ host: '127.0.0.1', port: 0 });

const keys = loadJwtKeys(config);
if (!keys.privateKey) throw new Error('no signing key');
const token = await mintToken(
  { sub: 'bench', role: 'admin', ptces: ['*'], ttl: '2h' },
  keys.privateKey,
  config,
);

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

process.on('message', async (message: { type: string }) => {
  if (message.type === 'rss') {
    send({ type: 'rss', peakRss, now: process.memoryUsage() });
  } else if (message.type === 'stop') {
    clearInterval(sampler);
    await app.close();
    await bare.close();
    raw.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    send({ type: 'stopped' });
    process.disconnect?.();
  }
});

send({ type: 'ready', ledgerUrl, baselineUrl, token, eventStoreUrl: config.EVENT_STORE_URL });
