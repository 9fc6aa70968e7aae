import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildHost, loadConfig, mergeOpenApiDocuments, type OpenApiDocument } from '@ptce/platform';
import { serviceModules } from '@ptce/standalone';
import { startTestServer, type TestServer } from '@ptce/testing';
import {
  Document,
  type ISpectralDiagnostic,
  Ruleset,
  type RulesetDefinition,
  Spectral,
} from '@stoplight/spectral-core';
import Parsers from '@stoplight/spectral-parsers';
import { oas } from '@stoplight/spectral-rulesets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const RULESET_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.spectral.yaml');

/** The rulesets `extends` may name, as spectral-cli reads them, so both lint with one file. */
const KNOWN_RULESETS: Readonly<Record<string, typeof oas>> = { 'spectral:oas': oas };

/**
 * .spectral.yaml as spectral-cli reads it, for its `extends` and `rules` only: the CLI's own loader
 * (@stoplight/spectral-ruleset-bundler) declares the DOM library in its types, which would retype
 * the whole test project. Anything else in the file is refused rather than silently ignored.
 */
function rulesetOf(file: string): Ruleset {
  const {
    extends: extended,
    rules,
    ...others
  } = parse(fs.readFileSync(file, 'utf8')) as {
    extends?: string | string[];
    rules?: Record<string, unknown>;
  };
  const unread = Object.keys(others);
  if (unread.length > 0) throw new Error(`${file}: ${unread.join(', ')} not read by this test`);
  const bases = [extended ?? []].flat().map((name) => {
    const known = KNOWN_RULESETS[name];
    if (!known) throw new Error(`${file}: extends ${name}, which this test does not know`);
    return known;
  });
  return new Ruleset({ extends: bases, rules: rules ?? {} } as RulesetDefinition, { source: file });
}

const SEVERITY = ['error', 'warning', 'info', 'hint'] as const;

function described(result: ISpectralDiagnostic): string {
  return `${SEVERITY[result.severity] ?? result.severity} ${result.code} at ${result.path.join('.')}: ${result.message}`;
}

async function lint(text: string): Promise<ISpectralDiagnostic[]> {
  const spectral = new Spectral();
  spectral.setRuleset(rulesetOf(RULESET_FILE));
  return spectral.run(new Document(text, Parsers.Json, '/docs/json'));
}

describe('the served OpenAPI document', () => {
  let server: TestServer;
  let text: string;

  beforeAll(async () => {
    server = await startTestServer();
    const answer = await server.app.inject({ method: 'GET', url: '/docs/json' });
    expect(answer.statusCode).toBe(200);
    text = answer.body;
  });
  afterAll(async () => server?.close());

  it('passes spectral:oas as .spectral.yaml configures it, with no error, warning, info or hint', async () => {
    expect((await lint(text)).map(described)).toEqual([]);
  });

  it('is linted: a document that breaks the rules fails', async () => {
    const document = JSON.parse(text) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operation = document.paths['/v1/me']?.get;
    expect(operation?.operationId).toBe('getMe');
    delete operation?.operationId;
    const results = await lint(JSON.stringify(document));
    expect(results.map((result) => `${result.code} ${result.path.join('.')}`)).toContain(
      'operation-operationId paths./v1/me.get',
    );
  });
});

describe("a split deployment's OpenAPI document, as the gateway merges the services' own", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-openapi-split-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('passes spectral:oas as well', async () => {
    const documents: { service: string; document: OpenApiDocument }[] = [];
    for (const module of serviceModules) {
      const config = loadConfig({ DATA_DIR: path.join(dataDir, module.name), LOG_LEVEL: 'silent' });
      const app = await buildHost(config, { logger: false, services: [module] });
      try {
        await app.ready();
        documents.push({ service: module.name, document: app.swagger() as OpenApiDocument });
      } finally {
        await app.close();
      }
    }
    const merged = mergeOpenApiDocuments(documents);
    expect(Object.keys(merged.paths)).toEqual(
      expect.arrayContaining(['/v1/ptces', '/v1/snapshots', '/v1/me']),
    );
    expect((await lint(JSON.stringify(merged))).map(described)).toEqual([]);
  });
});
