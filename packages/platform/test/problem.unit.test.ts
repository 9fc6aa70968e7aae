import { DuplicateEventIdError, RevisionConflictError, StoreUnavailableError } from '@ptce/event-store';
import { expect, test } from 'vitest';
import { toProblem } from '../src/problem.ts';

test('a duplicate event id from the store is 409 duplicate_event, not 500', () => {
  const problem = toProblem(new DuplicateEventIdError('e-1', 'already stored with another content'));
  expect(problem.status).toBe(409);
  expect(problem.code).toBe('duplicate_event');
  expect(problem.message).not.toContain('e-1');
});

test('the other store errors keep their mapping', () => {
  expect(toProblem(new StoreUnavailableError('down')).status).toBe(503);
  expect(toProblem(new RevisionConflictError('s', 0, 1)).status).toBe(409);
  expect(toProblem(new Error('boom')).status).toBe(500);
});
