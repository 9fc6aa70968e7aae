import { setTimeout as sleep } from 'node:timers/promises';

export interface ScenarioStep {
  readonly method: string | null;
  readonly path: string | null;
  readonly body: unknown;
  readonly expect: number | null;
  readonly expectBody?: Readonly<Record<string, unknown>>;
  readonly mark?: string;
}

export interface ScenarioCheck {
  readonly path: string;
  readonly expect?: Readonly<Record<string, unknown>>;
  readonly expectTimeline?: readonly (readonly [string, string])[];
  readonly expectNumbers?: Readonly<Record<string, number>>;
  readonly why?: string;
}

export interface Scenario {
  readonly name: string;
  readonly steps: readonly ScenarioStep[];
  readonly checks: readonly ScenarioCheck[];
}

export interface StepOutcome {
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly expected: number;
  readonly status: number;
  readonly body: unknown;
  /** Keys of `expectBody` whose value differs from the answer's. */
  readonly mismatches: readonly string[];
}

export interface ScenarioRun {
  readonly outcomes: readonly StepOutcome[];
  /** Marked instants by name, to substitute `{{name}}` in the checks. */
  readonly marks: Readonly<Record<string, string>>;
}

/** Sends one request of the scenario; the transport (inject, fetch, a gateway) is the caller's. */
export type Send = (request: {
  method: string;
  path: string;
  body: unknown;
}) => Promise<{ status: number; body: unknown }>;

/**
 * Replays the steps in order, as the scenario's secretary. A step with `mark` records the
 * current instant under that name, a few milliseconds clear of the writes around it, so that
 * `knownAt={{mark}}` falls strictly between them in transaction time.
 */
export async function runScenarioSteps(scenario: Scenario, send: Send): Promise<ScenarioRun> {
  const outcomes: StepOutcome[] = [];
  const marks: Record<string, string> = {};
  for (const [index, step] of scenario.steps.entries()) {
    if (step.mark) {
      await sleep(10);
      marks[step.mark] = new Date().toISOString();
      await sleep(10);
      continue;
    }
    if (!step.method || !step.path || step.expect === null) continue;
    const answer = await send({ method: step.method, path: step.path, body: step.body });
    const mismatches = Object.entries(step.expectBody ?? {})
      .filter(
        ([key, value]) =>
          JSON.stringify((answer.body as Record<string, unknown>)?.[key]) !== JSON.stringify(value),
      )
      .map(([key]) => key);
    outcomes.push({
      index,
      method: step.method,
      path: step.path,
      expected: step.expect,
      status: answer.status,
      body: answer.body,
      mismatches,
    });
  }
  return { outcomes, marks };
}

/** The steps that did not answer as the scenario says, readable in a test failure. */
export function failedSteps(run: ScenarioRun): string[] {
  return run.outcomes
    .filter((o) => o.status !== o.expected || o.mismatches.length > 0)
    .map(
      (o) =>
        `step ${o.index} ${o.method} ${o.path}: expected ${o.expected}, got ${o.status}` +
        (o.mismatches.length ? ` (body differs on ${o.mismatches.join(', ')})` : '') +
        ` — ${JSON.stringify(o.body)}`,
    );
}

/** A check's path with each `{{mark}}` replaced by its instant (URL-encoded); throws on an unknown mark. */
export function checkPath(check: ScenarioCheck, marks: Readonly<Record<string, string>>): string {
  return check.path.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const instant = marks[name];
    if (instant === undefined) throw new Error(`check ${check.path}: no mark ${name} in the steps`);
    return encodeURIComponent(instant);
  });
}

/** The value at a dotted path of an answer (`blau.membership`). */
function at(body: unknown, dotted: string): unknown {
  let value: unknown = body;
  for (const key of dotted.split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

/** Is `expected` found in `actual`: equal, or for objects, every expected key found in it (recursively)? */
function contains(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected)) {
    return JSON.stringify(actual) === JSON.stringify(expected);
  }
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(expected).every(([key, value]) =>
    contains((actual as Record<string, unknown>)[key], value),
  );
}

export interface CheckOutcome {
  readonly path: string;
  readonly status: number;
  readonly body: unknown;
  /** What differs from the check's expectations, in words; empty when it passes. */
  readonly failures: readonly string[];
}

/**
 * Asks each check's path (marks substituted) and compares the answer: `expect` as a partial
 * match of the body, `expectTimeline` as the entries' `[stage, from]` pairs in order, and
 * `expectNumbers` at dotted paths within 0.0001 (the scenario writes shares to four decimals).
 */
export async function runScenarioChecks(
  checks: readonly ScenarioCheck[],
  marks: Readonly<Record<string, string>>,
  get: (path: string) => Promise<{ status: number; body: unknown }>,
): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of checks) {
    const path = checkPath(check, marks);
    const answer = await get(path);
    const failures: string[] = [];
    if (answer.status !== 200) failures.push(`status ${answer.status}`);
    for (const [key, value] of Object.entries(check.expect ?? {})) {
      const actual = at(answer.body, key);
      if (!contains(actual, value)) {
        failures.push(`${key}: expected ${JSON.stringify(value)}, got ${JSON.stringify(actual)}`);
      }
    }
    if (check.expectTimeline) {
      const entries = at(answer.body, 'entries');
      const pairs = Array.isArray(entries) ? entries.map((e) => [at(e, 'stage'), at(e, 'from')]) : entries;
      if (JSON.stringify(pairs) !== JSON.stringify(check.expectTimeline)) {
        failures.push(
          `timeline: expected ${JSON.stringify(check.expectTimeline)}, got ${JSON.stringify(pairs)}`,
        );
      }
    }
    for (const [key, value] of Object.entries(check.expectNumbers ?? {})) {
      const actual = at(answer.body, key);
      if (typeof actual !== 'number' || Math.abs(actual - value) > 1e-4) {
        failures.push(`${key}: expected ${value}, got ${JSON.stringify(actual)}`);
      }
    }
    outcomes.push({ path, status: answer.status, body: answer.body, failures });
  }
  return outcomes;
}

/** The checks that did not answer as the scenario says, readable in a test failure. */
export function failedChecks(outcomes: readonly CheckOutcome[]): string[] {
  return outcomes
    .filter((o) => o.failures.length > 0)
    .map((o) => `${o.path}: ${o.failures.join('; ')} — ${JSON.stringify(o.body)}`);
}
