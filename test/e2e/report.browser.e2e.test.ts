/**
 * The funders' report as a browser shows it: the val-coop history (falls back included) replayed
 * over HTTP against the standalone server, the report opened in Chromium from a real port, in
 * French and in English. Nothing fails, nothing is asked of another origin, the chart has a
 * segment per entry of the timeline the read service answers, the texts and tables are there, the
 * headings nest, the text is legible, nothing overflows on screen or in print. A screenshot and a
 * PDF of each page are left under test-artifacts/ for a person to look at.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type App, loadConfig, loadJwtKeys, mintToken, type Role } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import { failedSteps, runScenarioSteps, type Scenario } from '@ptce/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import valCoop from '../scenarios/val-coop.json' with { type: 'json' };
import { clientAt, httpSender } from './http.ts';

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');

/** Found by the test setup (test/setup/servers.ts), which fails the run under CI=true without one. */
const chromiumPath = process.env.PTCE_TEST_CHROMIUM;
const noChromium = chromiumPath === undefined || chromiumPath === 'absent';

/** From the bottom stage up, as the projections order them. */
const STAGE_ORDER = ['not_started', 'individual_impulse', 'divided_groups', 'collective_group', 'effective'];

interface TimelineEntry {
  readonly stage: string;
}

const EXPECTED = {
  fr: {
    h1: 'Rapport aux financeurs',
    h2: [
      'Étape de création',
      'Participation par catégorie de membres',
      'Transition juridique',
      'Éligibilité aux appels à projets de l’État',
      'Signature et vérification',
    ],
    chart: 'Étapes du PTCE au fil des années',
    texts: ['Chronologie des étapes', '↓ recul', 'PTCE effectif', 'Vérifier la signature'],
  },
  en: {
    h1: 'Report for funders',
    h2: [
      'Creation stage',
      'Participation by member category',
      'Legal transition',
      "Eligibility for the State's calls for projects",
      'Signature and verification',
    ],
    chart: "The PTCE's stages over the years",
    texts: ['Stage timeline', '↓ fall-back', 'Effective PTCE', 'Verifying the signature'],
  },
} as const;

/*
 * The checks below run in the page (Playwright sends their source): each is self-contained, and
 * reaches the document through the element it is given. The project's TypeScript has no DOM
 * library, so the few shapes they use are declared here.
 */
interface PageStyle {
  readonly color: string;
  readonly fill: string;
  readonly backgroundColor: string;
  readonly paddingRight: string;
}
interface PageNode {
  readonly textContent: string | null;
  readonly parentElement: PageElement | null;
}
interface PageElement extends PageNode {
  readonly tagName: string;
  readonly namespaceURI: string | null;
  readonly ownerDocument: PageDocument;
  closest(selector: string): PageElement | null;
  getBoundingClientRect(): { readonly left: number; readonly right: number };
  querySelectorAll(selector: string): Iterable<PageElement>;
}
interface PageDocument {
  readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number };
  readonly defaultView: { getComputedStyle(element: PageElement): PageStyle };
  createTreeWalker(root: PageElement, whatToShow: number): { nextNode(): PageNode | null };
}

/** WCAG's contrast ratio of every text against the background it is drawn on: how many, and those under 4.5:1. */
function contrasts(body: PageElement): { readonly checked: number; readonly low: string[] } {
  const style = (element: PageElement) => body.ownerDocument.defaultView.getComputedStyle(element);
  const rgb = (colour: string): [number, number, number, number] | null => {
    const match = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(colour);
    if (!match) return null;
    return [
      Number(match[1]),
      Number(match[2]),
      Number(match[3]),
      match[4] === undefined ? 1 : Number(match[4]),
    ];
  };
  const luminance = ([r, g, b]: readonly number[]) => {
    const channel = (c: number) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
  };
  const background = (element: PageElement): number[] => {
    for (let at: PageElement | null = element; at; at = at.parentElement) {
      const colour = rgb(style(at).backgroundColor);
      if (colour && colour[3] > 0) return colour;
    }
    return [255, 255, 255, 1];
  };
  const low: string[] = [];
  let checked = 0;
  // NodeFilter.SHOW_TEXT
  const walker = body.ownerDocument.createTreeWalker(body, 4);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || !node.textContent?.trim() || element.closest('title, desc')) continue;
    const svg = element.namespaceURI === 'http://www.w3.org/2000/svg';
    const ink = rgb(svg ? style(element).fill : style(element).color);
    if (!ink) continue;
    const [lighter, darker] = [luminance(ink), luminance(background(element))].sort((a, b) => b - a);
    const ratio = (lighter! + 0.05) / (darker! + 0.05);
    checked += 1;
    if (ratio < 4.5) low.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return { checked, low };
}

/** Heading levels in document order: one h1 first, and never a level skipped on the way down. */
function headingLevels(body: PageElement): number[] {
  return [...body.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => Number(h.tagName.slice(1)));
}

/**
 * What sticks out: an element past the right edge of the body's content (a line that does not
 * wrap, a chart wider than the page), or a chart's text past the edge of its chart (clipped).
 */
function overflowing(body: PageElement): string[] {
  const page = body.ownerDocument.documentElement;
  const edge =
    body.getBoundingClientRect().right -
    Number.parseFloat(body.ownerDocument.defaultView.getComputedStyle(body).paddingRight);
  const out = [...body.querySelectorAll('*')]
    .filter((element) => element.getBoundingClientRect().right > edge + 0.5)
    .map((element) => `${element.tagName.toLowerCase()} past the page: ${element.textContent?.slice(0, 40)}`);
  for (const svg of body.querySelectorAll('svg')) {
    const frame = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5) {
        out.push(`text clipped by its chart: ${text.textContent}`);
      }
    }
  }
  if (page.scrollWidth > page.clientWidth) out.push('the page scrolls sideways');
  return out;
}

describe.skipIf(noChromium)(
  noChromium
    ? 'the report in Chromium — skipped: no Chromium found (CHROMIUM_PATH, chromium, chromium-browser)'
    : 'the report in Chromium, served over a real port, on the val-coop history',
  () => {
    let app: App;
    let dataDir: string;
    let baseUrl: string;
    let browser: Browser;
    let bearer: (role: Role) => Promise<string>;
    let timeline: readonly TimelineEntry[];
    let keyId: string;

    beforeAll(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-report-'));
      const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', PORT: '0' });
      app = await buildStandalone(config, { logger: false });
      baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      const keys = loadJwtKeys(config);
      const privateKey = keys.privateKey;
      if (!privateKey) throw new Error('no signing key');
      bearer = async (role) =>
        `Bearer ${await mintToken({ sub: `${role}-report`, role, ptces: ['val-coop'], ttl: '1h' }, privateKey, config)}`;
      const run = await runScenarioSteps(
        valCoop as Scenario,
        httpSender(() => baseUrl, await bearer('secretary')),
      );
      expect(failedSteps(run)).toEqual([]);

      const valCoopPath = { params: { path: { ptceId: 'val-coop' } } };
      const history = await clientAt(baseUrl, await bearer('auditor')).GET(
        '/v1/ptces/{ptceId}/stage/timeline',
        valCoopPath,
      );
      expect(history.response.status, JSON.stringify(history.error)).toBe(200);
      timeline = history.data?.entries ?? [];
      const snapshot = await clientAt(baseUrl, await bearer('funder')).GET(
        '/v1/snapshots/{ptceId}',
        valCoopPath,
      );
      expect(snapshot.response.status, JSON.stringify(snapshot.error)).toBe(200);
      keyId = snapshot.data?.signature.keyId ?? '';

      fs.mkdirSync(ARTIFACTS, { recursive: true });
      browser = await chromium.launch({
        executablePath: chromiumPath!,
        // Chromium's sandbox refuses to start as root, as a CI container often runs.
        args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
      });
    });
    afterAll(async () => {
      await browser?.close();
      await app?.close();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    test('the history falls back at least once, so the chart has a fall-back to show', () => {
      const fallBacks = timeline.filter(
        (entry, i) => i > 0 && STAGE_ORDER.indexOf(entry.stage) < STAGE_ORDER.indexOf(timeline[i - 1]!.stage),
      );
      expect(fallBacks.length).toBeGreaterThan(0);
    });

    for (const lang of ['fr', 'en'] as const) {
      test(`in ${lang}: loads with no error and nothing from elsewhere; chart, texts, tables; screenshot and PDF`, async () => {
        const context = await browser.newContext({
          extraHTTPHeaders: { authorization: await bearer('funder') },
          viewport: { width: 1024, height: 800 },
        });
        const page: Page = await context.newPage();
        const problems: string[] = [];
        const requested: string[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error' || message.type() === 'warning') {
            problems.push(`console ${message.type()}: ${message.text()}`);
          }
        });
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
        page.on('request', (request) => requested.push(request.url()));
        try {
          const response = await page.goto(`${baseUrl}/v1/snapshots/val-coop/report?lang=${lang}`, {
            waitUntil: 'load',
          });
          expect(response?.status()).toBe(200);
          expect(problems).toEqual([]);
          const origin = new URL(baseUrl).origin;
          expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
          expect(requested).toHaveLength(1);

          const expected = EXPECTED[lang];
          expect(await page.getAttribute('html', 'lang')).toBe(lang);
          expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain(expected.h1);
          expect(await page.getByRole('heading', { level: 2 }).allTextContents()).toEqual(expected.h2);
          const levels = await page.locator('body').evaluate(headingLevels);
          expect(levels[0]).toBe(1);
          expect(levels.filter((level) => level === 1)).toHaveLength(1);
          expect(levels.every((level, i) => i === 0 || level <= levels[i - 1]! + 1)).toBe(true);
          const body = await page.locator('body').textContent();
          for (const text of expected.texts) expect(body, text).toContain(text);
          expect((await page.locator('[data-key-id]').textContent())?.trim()).toBe(keyId);

          // One segment per timeline entry; the falls back drawn apart from the rises.
          expect(await page.locator('[data-timeline-entry]').count()).toBe(timeline.length);
          const fallBacks = page.locator('[data-timeline-entry][data-direction="fallBack"]');
          expect(await fallBacks.count()).toBeGreaterThan(0);
          const fallBackFill = await fallBacks.first().locator('rect').getAttribute('fill');
          const riseFills = await page
            .locator('[data-timeline-entry][data-direction="rise"] rect')
            .evaluateAll((rects) => rects.map((rect) => rect.getAttribute('fill')));
          expect(riseFills).not.toContain(fallBackFill);

          // Each chart is an image with a name, and has a table saying the same.
          await expect(page.getByRole('img', { name: expected.chart }).count()).resolves.toBe(1);
          expect(await page.locator('svg[role="img"]').count()).toBe(2);
          const tables = page.locator('table');
          expect(await tables.count()).toBeGreaterThanOrEqual(5);
          expect(await page.locator('table:not(:has(caption))').count()).toBe(0);
          expect(await page.locator('thead th:not([scope="col"])').count()).toBe(0);
          expect(await page.locator('table tbody tr').count()).toBeGreaterThan(timeline.length);

          const contrast = await page.locator('body').evaluate(contrasts);
          expect(contrast.low).toEqual([]);
          // Every label, cell and chart text was measured, not a handful.
          expect(contrast.checked).toBeGreaterThan(200);
          expect(await page.locator('body').evaluate(overflowing)).toEqual([]);

          const screenshot = path.join(ARTIFACTS, `report-${lang}.png`);
          await page.screenshot({ path: screenshot, fullPage: true });
          await page.emulateMedia({ media: 'print' });
          expect(await page.locator('body').evaluate(overflowing)).toEqual([]);
          const pdf = path.join(ARTIFACTS, `report-${lang}.pdf`);
          await page.pdf({ path: pdf, format: 'A4', printBackground: true });
          for (const file of [screenshot, pdf]) expect(fs.statSync(file).size, file).toBeGreaterThan(0);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      });
    }
  },
);
