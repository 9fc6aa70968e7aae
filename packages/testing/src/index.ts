export {
  type Answer,
  type Client,
  clientFor,
  expectProblem,
  expectWritersOnly,
  expectWritten,
  SLUG,
  seedPtce,
  type WriteCaller,
  type WriteRoute,
  writeCallers,
} from './http.ts';
export { castEventsToJsonb, createTempDatabase, type TempDatabase } from './postgres.ts';
export {
  type CheckOutcome,
  checkPath,
  failedChecks,
  failedSteps,
  runScenarioChecks,
  runScenarioSteps,
  type Scenario,
  type ScenarioCheck,
  type ScenarioRun,
  type ScenarioStep,
  type Send,
  type StepOutcome,
} from './scenario.ts';
export { startTestServer, type TestServer } from './server.ts';
