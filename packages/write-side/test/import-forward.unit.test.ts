import { describe, expect, test } from 'vitest';
import { type ForwardLine, runImport } from '../src/import.ts';
import { WriteCatalog } from '../src/write-catalog.ts';

const principal = { sub: 'secretaire', role: 'secretary' as const, ptces: ['p'] };
const line = (path: string) => JSON.stringify({ method: 'POST', path, body: { occurredAt: '2024-01-01' } });

function importing(text: string, dryRun = false) {
  const forwarded: string[] = [];
  const forward: ForwardLine = async (l) => {
    forwarded.push(l.path);
    return { status: 201, body: { ptceId: 'p' }, replayed: false };
  };
  const report = runImport({
    catalog: new WriteCatalog(),
    ptceId: 'p',
    principal,
    correlationId: 'r1',
    text,
    dryRun,
    maxLines: 100,
    forward,
  });
  return { report, forwarded };
}

describe('lines another service writes (a split deployment)', () => {
  test('only a plain path of the PTCE imported into is sent on; the others are refused on their line', async () => {
    const { report, forwarded } = importing(
      [
        line('/v1/ptces/p/spaces'),
        line('/v1/ptces/other/spaces'),
        line('/v1/ptces/p/spaces/s/members/..%2f..%2fmembers'),
        line('/v1/ptces/p/spaces/s/meetings/..\\\\..\\\\x'),
        line('/v1/ptces/p/spaces/./members'),
        line('/v1/ptces/p//spaces'),
      ].join('\n'),
    );
    const { results } = await report;
    expect(results.map((r) => [r.status, r.problem?.code])).toEqual([
      [201, undefined],
      [422, 'line_outside_ptce'],
      [404, 'unknown_route'],
      [404, 'unknown_route'],
      [404, 'unknown_route'],
      [404, 'unknown_route'],
    ]);
    expect(forwarded).toEqual(['/v1/ptces/p/spaces']);
  });

  test('a dry run of lines another service writes is refused whole (501): nothing is sent', async () => {
    const { report, forwarded } = importing(line('/v1/ptces/p/spaces'), true);
    await expect(report).rejects.toMatchObject({ status: 501, code: 'dry_run_needs_every_service' });
    expect(forwarded).toEqual([]);
  });
});
