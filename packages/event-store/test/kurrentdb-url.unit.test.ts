import { expect, test } from 'vitest';
import { kurrentConnectionString } from '../src/kurrentdb.ts';

test('esdb:// and kurrent:// URLs reach the client as kurrentdb://, options and discovery kept', () => {
  expect(kurrentConnectionString('esdb://127.0.0.1:2113?tls=false')).toBe(
    'kurrentdb://127.0.0.1:2113?tls=false',
  );
  expect(kurrentConnectionString('esdb+discover://a:2113,b:2113?tls=true')).toBe(
    'kurrentdb+discover://a:2113,b:2113?tls=true',
  );
  expect(kurrentConnectionString('kurrent://admin:changeit@node:2113')).toBe(
    'kurrentdb://admin:changeit@node:2113',
  );
  expect(kurrentConnectionString('kurrentdb://node:2113?tls=false')).toBe('kurrentdb://node:2113?tls=false');
});
