/**
 * Importing a PTCE's past: a 10,000-line file holding the histories of 8 PTCE (1,250 writes each:
 * joins, working groups, enrolments, meetings, decisions, activities, recognitions) imported on
 * SQLite, one import request per PTCE, the 8 at once — against the same writes sent one REST call
 * at a time, in order, one connection per PTCE, 8 PTCE in parallel. Both carry an idempotency key
 * per write (the import derives one per line; the REST client sends one per request, as a client
 * that must be able to retry does), so both do the same work; the REST baseline without keys is
 * reported beside. Target: ratio ≥ 3, median of three runs, each run on PTCE of its own.
 */
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HistoryLine, ptceHistory } from './import-history.ts';
import type { Report } from './report.ts';
import { startFlags } from './start-flags.ts';

const PTCE_COUNT = 8;
const LINES = Number(process.env.BENCH_IMPORT_LINES ?? 10_000);
const RUNS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));

interface Ready {
  type: 'ready';
  ledgerUrl: string;
  token: string;
}

function started(child: ChildProcess): Promise<Ready> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== 'ready') return;
      child.off('message', onMessage);
      resolve(m as Ready);
    };
    child.on('message', onMessage);
  });
}

/** One request on `agent` (keep-alive, one socket: one connection per PTCE). */
function post(
  agent: http.Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The 8 PTCE of one run, each with its share of the file's lines. */
function histories(prefix: string): HistoryLine[][] {
  return Array.from({ length: PTCE_COUNT }, (_, i) => ptceHistory(`${prefix}-${i}`, LINES / PTCE_COUNT));
}

/** Every write over REST, in order per PTCE, the PTCE in parallel; events recorded per second. */
async function restRun(url: string, token: string, prefix: string, keyed: boolean): Promise<number> {
  const started = performance.now();
  const counts = await Promise.all(
    histories(prefix).map(async (lines) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let events = 0;
      try {
        for (const [n, line] of lines.entries()) {
          const answer = await post(
            agent,
            url + line.path,
            {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              ...(keyed ? { 'idempotency-key': `${prefix}:${n}` } : {}),
            },
            JSON.stringify(line.body),
          );
          if (answer.status >= 300) throw new Error(`REST ${line.path}: ${answer.status} ${answer.body}`);
          events += (JSON.parse(answer.body) as { eventIds: unknown[] }).eventIds.length;
        }
      } finally {
        agent.destroy();
      }
      return events;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

/** One import request per PTCE, the 8 at once; events recorded per second. */
async function importRun(url: string, token: string, prefix: string): Promise<number> {
  const started = performance.now();
  const counts = await Promise.all(
    histories(prefix).map(async (lines, i) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const file = lines.map((line) => JSON.stringify(line)).join('\n');
        const answer = await post(
          agent,
          `${url}/v1/ptces/${prefix}-${i}/imports`,
          { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
          file,
        );
        if (answer.status !== 200) throw new Error(`import: ${answer.status} ${answer.body.slice(0, 500)}`);
        const report = JSON.parse(answer.body) as {
          refused: number;
          results: { status: number; result?: { eventIds: unknown[] }; problem?: unknown }[];
        };
        if (report.refused > 0) {
          const first = report.results.find((r) => r.problem);
          throw new Error(`import: ${report.refused} lines refused, e.g. ${JSON.stringify(first)}`);
        }
        return report.results.reduce((sum, r) => sum + (r.result?.eventIds.length ?? 0), 0);
      } finally {
        agent.destroy();
      }
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

export async function run(report: Report): Promise<void> {
  const child = fork(path.join(here, 'write-server.ts'), [], {
    execArgv: [...startFlags(), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await started(child);
    const imports: number[] = [];
    const rest: number[] = [];
    const restWithoutKeys: number[] = [];
    // Alternated, so that a noisy moment of the shared machine weighs on both sides alike.
    for (let r = 0; r < RUNS; r++) {
      rest.push(await restRun(ready.ledgerUrl, ready.token, `rest-${r}`, true));
      imports.push(await importRun(ready.ledgerUrl, ready.token, `import-${r}`));
      restWithoutKeys.push(await restRun(ready.ledgerUrl, ready.token, `rest-nokey-${r}`, false));
      process.stderr.write(
        `import: run ${r + 1}/${RUNS}: import ${Math.round(imports[r]!)} events/s, REST ${Math.round(rest[r]!)} (keyed), ${Math.round(restWithoutKeys[r]!)} (no keys)\n`,
      );
    }
    report({
      bench: 'import.events_per_s',
      value: median(imports),
      unit: 'events/s',
      baseline: median(rest),
    });
    report({
      bench: 'import.events_per_s.vs_rest_without_keys',
      value: median(imports),
      unit: 'events/s',
      baseline: median(restWithoutKeys),
    });
  } finally {
    child.send({ type: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
