/**
 * The funders' report page: who may read it, that it is the snapshot the JSON route signs (same
 * key id, same signature), in French or English, that it loads nothing and carries a CSP allowing
 * its own stylesheet alone, that recorded names reach it as text, and that it names no natural
 * person whoever asks. Its rendering in a real browser is test/e2e/report.browser.e2e.test.ts.
 */
import { createHash } from 'node:crypto';
import {
  type Answer,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let admin: string;

const PERSON_ID = 'jeanne-exemple';
const PERSON_NAME = 'Jeanne Exemplaire-Témoin';
const PILOT_PERSON_ID = 'paul-pilote';
const PILOT_PERSON_NAME = 'Paul Pilote-Particulier';
const HOSTILE_PTCE_NAME = '<script>alert("ptce")</script> & Cie';
const HOSTILE_ENTITY_NAME = '<img src=x onerror=alert(1)> SCIC';

/** A GET as a caller; `''` sends no token. */
async function get(url: string, authorization: string): Promise<Answer & { text: string }> {
  const headers: Record<string, string> = authorization === '' ? {} : { authorization };
  const res = await server.app.inject({ method: 'GET', url, headers });
  const json = String(res.headers['content-type']).includes('json');
  return { status: res.statusCode, body: json ? res.json() : {}, headers: res.headers, text: res.body };
}

/** A report page read as a caller, asserted to be an HTML page. */
async function report(url: string, authorization: string): Promise<string> {
  const answer = await get(url, authorization);
  expect(answer.status, answer.text).toBe(200);
  expect(String(answer.headers['content-type'])).toBe('text/html; charset=utf-8');
  return answer.text;
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await server.bearer('admin');
  const secretary = clientFor(server, await server.bearer('secretary', ['p1', 'p2', 'evil']));
  await seedPtce(secretary, 'p1');
  await seedPtce(secretary, 'p2');
  const steps: [string, unknown][] = [
    [
      '/v1/ptces/p1/members',
      { organisationId: PERSON_ID, name: PERSON_NAME, category: 'natural_person', occurredAt: '2020-03-01' },
    ],
    [
      '/v1/ptces',
      {
        ptceId: 'evil',
        name: HOSTILE_PTCE_NAME,
        territory: { name: 'Pays test' },
        pilot: { organisationId: PILOT_PERSON_ID, name: PILOT_PERSON_NAME, category: 'natural_person' },
        occurredAt: '2020-01-01',
      },
    ],
    [
      '/v1/ptces/evil/members',
      { organisationId: 'garage', name: 'Garage', category: 'enterprise', occurredAt: '2020-02-01' },
    ],
    [
      '/v1/ptces/evil/legal-entity',
      { name: HOSTILE_ENTITY_NAME, legalForm: 'scic', occurredAt: '2020-05-01' },
    ],
  ];
  for (const [url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, `${url} ${JSON.stringify(answer.body)}`).toBe(201);
  }
});
afterAll(() => server.close());

describe('who reads the report', () => {
  test('no token is 401', async () => {
    expectProblem(await get('/v1/snapshots/p1/report', ''), 401, 'unauthorized');
  });

  test('funder, secretary, auditor in scope and admin read it; out of scope is 403', async () => {
    for (const role of ['funder', 'secretary', 'auditor'] as const) {
      const inScope = await server.bearer(role, ['p1']);
      await report('/v1/snapshots/p1/report', inScope);
      expectProblem(await get('/v1/snapshots/p2/report', inScope), 403, 'out_of_scope');
    }
    await report('/v1/snapshots/p2/report', await server.bearer('admin', ['elsewhere']));
  });

  test('an unknown PTCE in scope is 404', async () => {
    const funder = await server.bearer('funder', ['p1', 'ghost']);
    expectProblem(await get('/v1/snapshots/ghost/report', funder), 404, 'ptce_not_found');
  });

  test('an unknown language, an instant as asOf, knownAt with atPosition are 400 naming the parameter', async () => {
    for (const [url, param] of [
      ['/v1/snapshots/p1/report?lang=de', 'lang'],
      ['/v1/snapshots/p1/report?asOf=2020-02-03T10:00:00Z', 'asOf'],
      ['/v1/snapshots/p1/report?knownAt=2020-01-01&atPosition=00000000000000000001', 'atPosition'],
    ] as const) {
      const answer = await get(url, admin);
      expectProblem(answer, 400, 'validation_failed');
      expect(answer.body.errors).toEqual([expect.objectContaining({ path: param, in: 'querystring' })]);
    }
  });
});

describe('what the page says', () => {
  test('French by default, English with lang=en: the lang attribute, the headings, the dates', async () => {
    const fr = await report('/v1/snapshots/p1/report?asOf=2020-06-01', admin);
    expect(fr).toMatch(/^<!doctype html>\n<html lang="fr">/);
    for (const text of [
      'Rapport aux financeurs',
      'Étape de création',
      'Chronologie des étapes',
      'Participation par catégorie de membres',
      'Transition juridique',
      'Éligibilité',
      'Identifiant de la clé',
      '1 janvier 2020',
      '1 juin 2020',
      'Impulsion individuelle',
    ]) {
      expect(fr, text).toContain(text);
    }
    expect(fr).not.toContain('Stage timeline');

    const en = await report('/v1/snapshots/p1/report?asOf=2020-06-01&lang=en', admin);
    expect(en).toMatch(/^<!doctype html>\n<html lang="en">/);
    for (const text of [
      'Report for funders',
      'Creation stage',
      'Stage timeline',
      'Participation by member category',
      'Legal transition',
      'Eligibility',
      'Key id',
      '1 January 2020',
      '1 June 2020',
      'Individual impulse',
    ]) {
      expect(en, text).toContain(text);
    }
    expect(en).not.toContain('Chronologie des étapes');
  });

  test('the key id and signature of the JSON snapshot the same query gives, and how to verify them', async () => {
    const funder = await server.bearer('funder', ['p1']);
    const json = await get('/v1/snapshots/p1?asOf=2020-06-01', funder);
    const { snapshot, signature } = json.body as {
      snapshot: { position: string };
      signature: { keyId: string; value: string };
    };
    const page = await report('/v1/snapshots/p1/report?asOf=2020-06-01', funder);
    expect(page).toContain(`<code data-key-id>${signature.keyId}</code>`);
    expect(page).toContain(signature.value);
    expect(page).toContain('/.well-known/jwks.json');
    expect(page).toContain('pnpm --silent ptce verify-snapshot FILE --keys');
    expect(page).toContain(`/v1/snapshots/p1?asOf=2020-06-01&amp;atPosition=${snapshot.position}`);
  });

  test('one chart segment per entry of the stage timeline the read service answers', async () => {
    const timeline = await get('/v1/ptces/p1/stage/timeline', admin);
    expect(timeline.status).toBe(200);
    const entries = timeline.body.entries as unknown[];
    // Registered alone, then partners: the impulse, then divided groups.
    expect(entries.length).toBeGreaterThanOrEqual(2);
    const page = await report('/v1/snapshots/p1/report', admin);
    expect(page.match(/<g data-timeline-entry=/g)).toHaveLength(entries.length);
    // A table row per entry too, for whoever cannot see the chart.
    expect(page.match(/<tr data-direction=/g)).toHaveLength(entries.length);
  });

  test('the timeline as it stood at asOf: later entries left out, the one then held shown ongoing', async () => {
    const timeline = await get('/v1/ptces/p1/stage/timeline', admin);
    const entries = timeline.body.entries as { stage: string; from: string }[];
    expect(entries.map((e) => [e.stage, e.from])).toEqual([
      ['individual_impulse', '2020-01-01'],
      ['divided_groups', '2020-02-01'],
    ]);
    const page = await report('/v1/snapshots/p1/report?asOf=2020-01-15&lang=en', admin);
    expect(page.match(/<g data-timeline-entry=/g)).toHaveLength(1);
    expect(page).toMatch(
      /<th scope="row">Individual impulse<\/th>\n<td>1 January 2020<\/td>\n<td>ongoing<\/td>/,
    );
    expect(page).not.toContain('1 February 2020');
  });
});

describe('what the page loads and runs: nothing', () => {
  test('a CSP that allows no source but the hash of the page’s own stylesheet', async () => {
    const answer = await get('/v1/snapshots/p1/report', admin);
    const csp = String(answer.headers['content-security-policy']);
    const directives = new Map(
      csp.split(';').map((directive) => {
        const [name = '', ...values] = directive.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.has('script-src')).toBe(false);
    const style = /<style>([\s\S]*?)<\/style>/.exec(answer.text)?.[1];
    expect(style).toBeDefined();
    const hash = createHash('sha256').update(style!, 'utf8').digest('base64');
    expect(directives.get('style-src')).toEqual([`'sha256-${hash}'`]);
    expect(answer.text.match(/<style>/g)).toHaveLength(1);
  });

  test('no script, no external resource, no inline style attribute, no event handler', async () => {
    const page = await report('/v1/snapshots/evil/report', admin);
    expect(page).not.toMatch(/<script|<link|<img|<iframe|<object|<embed|@import|url\(/i);
    // Inside a tag: the hostile names hold these too, as text.
    expect(page).not.toMatch(/<[a-z][^>]*\s(style|on[a-z]+)=/i);
    expect(page).not.toMatch(/<[a-z][^>]*\s(src|href)="(?!\/)/i);
  });
});

describe('recorded text reaches the page as text', () => {
  test("a PTCE's and a legal entity's hostile names are escaped, in the title and everywhere", async () => {
    for (const lang of ['fr', 'en']) {
      const page = await report(`/v1/snapshots/evil/report?lang=${lang}`, admin);
      expect(page).toContain('&lt;script&gt;alert(&quot;ptce&quot;)&lt;/script&gt; &amp; Cie');
      expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; SCIC');
      expect(page).not.toContain(HOSTILE_PTCE_NAME);
      expect(page).not.toContain(HOSTILE_ENTITY_NAME);
    }
  });
});

describe('privacy', () => {
  test('no natural person is named or identified, whoever asks, in either language; they are counted', async () => {
    const readers = [
      admin,
      await server.bearer('funder', ['p1', 'evil']),
      await server.bearer('auditor', ['p1', 'evil']),
    ];
    for (const authorization of readers) {
      for (const lang of ['fr', 'en']) {
        for (const ptceId of ['p1', 'evil']) {
          const page = await report(`/v1/snapshots/${ptceId}/report?lang=${lang}`, authorization);
          for (const personal of [PERSON_ID, PERSON_NAME, PILOT_PERSON_ID, PILOT_PERSON_NAME]) {
            expect(page, `${ptceId} ${lang}`).not.toContain(personal);
          }
        }
      }
    }
    const p1 = await report('/v1/snapshots/p1/report?asOf=2020-06-01&lang=en', admin);
    expect(p1).toMatch(/of whom natural persons \(counted, never named\)<\/dt><dd>1<\/dd>/);
  });
});

describe('the OpenAPI document', () => {
  interface Operation {
    readonly parameters?: readonly {
      readonly name: string;
      readonly in: string;
      readonly schema?: unknown;
    }[];
    readonly responses: Readonly<Record<string, { readonly content?: Readonly<Record<string, unknown>> }>>;
  }

  async function operation(path: string): Promise<Operation> {
    const answer = await server.app.inject({ method: 'GET', url: '/docs/json' });
    expect(answer.statusCode).toBe(200);
    const document = answer.json<{ paths: Record<string, { get: Operation }> }>();
    const found = document.paths[path]?.get;
    expect(found, path).toBeDefined();
    return found!;
  }

  test('the report answers text/html and documents its query, lang included', async () => {
    const report = await operation('/v1/snapshots/{ptceId}/report');
    expect(Object.keys(report.responses['200']?.content ?? {})).toEqual(['text/html']);
    expect(report.responses['200']?.content?.['text/html']).toEqual({
      schema: expect.objectContaining({ type: 'string' }),
    });
    const query = (report.parameters ?? []).filter((p) => p.in === 'query');
    expect(query.map((p) => p.name).sort()).toEqual(['asOf', 'atPosition', 'knownAt', 'lang']);
    expect(query.find((p) => p.name === 'lang')?.schema).toMatchObject({ enum: ['fr', 'en'], default: 'fr' });
    expect(Object.keys(report.responses['404']?.content ?? {})).toEqual(['application/problem+json']);
  });

  test('the list documents its JSON and, with format=csv, its text/csv answer', async () => {
    const list = await operation('/v1/snapshots');
    const content = list.responses['200']?.content ?? {};
    expect(Object.keys(content).sort()).toEqual(['application/json', 'text/csv']);
    expect(content['text/csv']).toEqual({ schema: expect.objectContaining({ type: 'string' }) });
    expect(content['application/json']).toMatchObject({
      schema: { type: 'object', properties: { snapshots: { type: 'array' } } },
    });
  });
});
