import { describe, expect, test } from 'vitest';
import { checkedInFiles, GENERATED_FILES, generatedFiles, servedDocument } from './generate.ts';

/** Where two texts first part, by line, so a failure says what changed without a 700 kB diff. */
function firstDifference(expected: string, actual: string | null): string {
  if (actual === null) return 'the file is missing';
  const expectedLines = expected.split('\n');
  const actualLines = actual.split('\n');
  const index = expectedLines.findIndex((line, i) => line !== actualLines[i]);
  const at = index === -1 ? expectedLines.length : index;
  return `line ${at + 1}: checked in ${JSON.stringify(actualLines[at] ?? '<end of file>')}, generated ${JSON.stringify(expectedLines[at] ?? '<end of file>')}`;
}

describe('the checked-in client is generated from the document the server serves', () => {
  test('openapi.json and schema.ts equal a fresh generation, byte for byte', async () => {
    const fresh = await generatedFiles(await servedDocument());
    const onDisk = checkedInFiles();
    const stale = Object.values(GENERATED_FILES)
      .filter((file) => onDisk[file] !== fresh[file])
      .map((file) => `${file} (${firstDifference(fresh[file], onDisk[file])})`);
    expect(stale, `stale generated files: run pnpm generate:client\n${stale.join('\n')}`).toEqual([]);
  });

  test('the comparison can fail: a document with one route more generates another schema.ts', async () => {
    const document = await servedDocument();
    const changed = {
      ...document,
      paths: {
        ...document.paths,
        '/v1/not-served': { get: { responses: { '204': { description: 'No' } } } },
      },
    };
    const fresh = await generatedFiles(changed);
    const onDisk = checkedInFiles();
    expect(fresh[GENERATED_FILES.schema]).not.toBe(onDisk[GENERATED_FILES.schema]);
    expect(fresh[GENERATED_FILES.schema]).toContain("'/v1/not-served'");
    expect(fresh[GENERATED_FILES.document]).not.toBe(onDisk[GENERATED_FILES.document]);
  });
});
