import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

/**
 * The house's layering, checked on the workspace's own package.json files: the published
 * language at the bottom, then the store and the domain, the platform, command execution, the
 * services. A dependency that runs upwards, or a cycle (test helpers included), fails here
 * before it fails someone's build order.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Workspace {
  readonly name: string;
  readonly dir: string;
  readonly dependsOn: readonly string[];
}

function workspaces(): Workspace[] {
  const dirs = ['packages', 'services'].flatMap((group) =>
    fs
      .readdirSync(path.join(root, group))
      .map((name) => path.join(group, name))
      .filter((dir) => fs.existsSync(path.join(root, dir, 'package.json'))),
  );
  return [...dirs, 'test'].map((dir) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const all = { ...manifest.dependencies, ...manifest.devDependencies };
    return { name: manifest.name, dir, dependsOn: Object.keys(all).filter((d) => d.startsWith('@ptce/')) };
  });
}

/** Lower layers first; a package may depend only on packages of a strictly lower layer. */
const LAYERS: readonly (readonly string[])[] = [
  // The typed client depends on no package of ours: integrators install it alone, and the CLI
  // talks to the server through it. It is generated (test/client) from the standalone's document.
  ['@ptce/events', '@ptce/client'],
  ['@ptce/event-store', '@ptce/domain'],
  ['@ptce/projections', '@ptce/platform'],
  ['@ptce/write-side', '@ptce/read-models'],
  [
    '@ptce/cli',
    '@ptce/membership',
    '@ptce/working-groups',
    '@ptce/decisions',
    '@ptce/projections-service',
    '@ptce/audit',
    '@ptce/snapshots',
  ],
  ['@ptce/standalone'],
  ['@ptce/testing'],
  ['@ptce/test'],
];
const layerOf = (name: string) => LAYERS.findIndex((layer) => layer.includes(name));

describe('the workspace packages', () => {
  const all = workspaces();

  test('every package has its place in the layers', () => {
    expect(all.filter((w) => layerOf(w.name) < 0).map((w) => w.name)).toEqual([]);
  });

  test('no dependency runs upwards or sideways (test helpers and dev dependencies included)', () => {
    const wrong = all.flatMap((w) =>
      w.dependsOn.filter((d) => layerOf(d) >= layerOf(w.name)).map((d) => `${w.name} → ${d}`),
    );
    expect(wrong).toEqual([]);
  });

  test('the typed client installs alone: no @ptce package among its runtime dependencies', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'packages/client/package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const runtime = Object.keys(manifest.dependencies ?? {});
    expect(runtime.filter((name) => name.startsWith('@ptce/'))).toEqual([]);
    expect(runtime).toContain('openapi-fetch');
  });

  test('the dependency graph has no cycle', () => {
    const edges = new Map(all.map((w) => [w.name, w.dependsOn]));
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (name: string, trail: string[]) => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(name)), name].join(' → '));
        return;
      }
      state.set(name, 'visiting');
      for (const next of edges.get(name) ?? []) visit(next, [...trail, name]);
      state.set(name, 'done');
    };
    for (const w of all) visit(w.name, []);
    expect(cycles).toEqual([]);
  });
});
