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
