import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildHost, loadConfig, type ServiceModule } from '@ptce/platform';
import { buildStandalone, serviceModules } from '@ptce/standalone';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  chooseLocation,
  composeGatewayConfig,
  locationsOf,
  matchingLocations,
  parseNginx,
  SERVICES,
  upstreamOf,
} from './nginx.ts';

const HTTP_METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];
/** Where a route has a path parameter, the gateway sees some id: one that names no route of its own. */
const SAMPLE_ID = 'x7-sample';
/** Answered by the platform in every service, whichever one the gateway picks. */
const ANY_SERVICE = '(any service)';

interface Route {
  readonly method: string;
  readonly path: string;
}

function routesOf(document: unknown): Route[] {
  const paths = (document as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
  return Object.entries(paths).flatMap(([routePath, operations]) =>
    Object.keys(operations)
      .filter((method) => HTTP_METHODS.includes(method))
      .map((method) => ({ method: method.toUpperCase(), path: routePath })),
  );
}

const key = (route: Route) => `${route.method} ${route.path}`;

const dirs: string[] = [];
function config() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-gateway-routes-'));
  dirs.push(dataDir);
  return loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
}

/** The OpenAPI routes of a host mounting these modules only (none: the platform's own). */
async function documentedRoutes(services: readonly ServiceModule[]): Promise<Route[]> {
  const app = await buildHost(config(), { logger: false, services });
  try {
    await app.ready();
    return routesOf(app.swagger());
  } finally {
    await app.close();
  }
}

describe('the gateway sends every route of the contract to the service that registers it', () => {
  const owner = new Map<string, string>();
  let standaloneRoutes: Route[] = [];

  beforeAll(async () => {
    for (const route of await documentedRoutes([])) owner.set(key(route), ANY_SERVICE);
    for (const module of serviceModules) {
      for (const route of await documentedRoutes([module])) {
        if (!owner.has(key(route))) owner.set(key(route), module.name);
      }
    }
    const standalone = await buildStandalone(config(), { logger: false });
    try {
      await standalone.ready();
      standaloneRoutes = routesOf(standalone.swagger());
    } finally {
      await standalone.close();
    }
  }, 60_000);

  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  const nginx = parseNginx(composeGatewayConfig());
  const locations = locationsOf(nginx);

  test('the services behind the gateway are the modules of the standalone server', () => {
    expect(serviceModules.map((m) => m.name).sort()).toEqual([...SERVICES].sort());
    const upstreams = nginx.filter((d) => d.name === 'upstream').map((d) => d.args[0]);
    expect(upstreams.sort()).toEqual([...SERVICES].sort());
  });

  test('every /v1 route of the standalone document reaches its owner, and only one service matches it', () => {
    const v1 = standaloneRoutes.filter((route) => route.path.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThan(30);
    const misrouted: string[] = [];
    for (const route of v1) {
      const uri = route.path.replace(/\{[^}]+\}/g, SAMPLE_ID);
      const expected = owner.get(key(route));
      const chosen = chooseLocation(locations, uri);
      const target = chosen ? upstreamOf(nginx, chosen, route.method) : 'no location';
      if (expected === undefined) misrouted.push(`${key(route)}: no module registers it`);
      else if (expected === ANY_SERVICE ? !SERVICES.some((s) => s === target) : target !== expected)
        misrouted.push(`${key(route)} → ${target}, registered by ${expected}`);
      // A route within reach of two services is sent to one by the order of the file alone.
      const reachable = new Set(
        matchingLocations(locations, uri)
          .map((location) => upstreamOf(nginx, location, route.method))
          .filter((upstream) => upstream !== 'nginx'),
      );
      if (reachable.size > 1) misrouted.push(`${key(route)} is matched by ${[...reachable].join(' and ')}`);
    }
    expect(misrouted).toEqual([]);
  });

  test('what is not a route of the contract is answered by the gateway itself', () => {
    for (const uri of ['/metrics', '/v1/unknown', '/v1/ptces/x7-sample/unknown', '/docs/yaml']) {
      const chosen = chooseLocation(locations, uri);
      expect({ uri, upstream: chosen && upstreamOf(nginx, chosen, 'GET') }).toEqual({
        uri,
        upstream: 'nginx',
      });
    }
    for (const [uri, upstream] of [
      ['/health/ready', 'membership'],
      ['/docs/json', 'membership'],
      ['/docs/static/index.html', 'membership'],
      ['/.well-known/jwks.json', 'snapshots'],
    ] as const) {
      const chosen = chooseLocation(locations, uri);
      expect({ uri, upstream: chosen && upstreamOf(nginx, chosen, 'GET') }).toEqual({ uri, upstream });
    }
  });

  test("nginx's location rules as modelled here: exact, then ^~ prefix, then regex in order, then longest prefix", () => {
    const model = locationsOf(
      parseNginx(`server {
        location / { proxy_pass http://fallback; }
        location /a/ { proxy_pass http://prefix; }
        location ^~ /a/stop/ { proxy_pass http://stop; }
        location = /a/x { proxy_pass http://exact; }
        location ~ ^/a/[^/]+$ { proxy_pass http://first-regex; }
        location ~* ^/A/ { proxy_pass http://second-regex; }
      }`),
    );
    const target = (uri: string) => {
      const chosen = chooseLocation(model, uri);
      return chosen && upstreamOf([], chosen, 'GET');
    };
    expect(target('/a/x')).toBe('exact');
    expect(target('/a/stop/y')).toBe('stop');
    expect(target('/a/y')).toBe('first-regex');
    expect(target('/a/y/z')).toBe('second-regex');
    expect(target('/b')).toBe('fallback');
  });

  test("the gateway's body limit is the services' default BODY_LIMIT", () => {
    const server = nginx.find((d) => d.name === 'server');
    const size = server?.block?.find((d) => d.name === 'client_max_body_size')?.args[0];
    const bytes = /^(\d+)([km]?)$/i.exec(size ?? '');
    if (!bytes) throw new Error(`client_max_body_size ${size} is not a size`);
    const unit = { '': 1, k: 1024, m: 1024 * 1024 }[bytes[2]!.toLowerCase() as '' | 'k' | 'm'];
    expect(Number(bytes[1]) * unit).toBe(loadConfig({}).BODY_LIMIT);
  });

  test("the imports' location takes the services' default IMPORT_BODY_LIMIT", () => {
    const server = nginx.find((d) => d.name === 'server');
    const imports = server?.block?.find(
      (d) => d.name === 'location' && d.args.some((a) => a.includes('imports')),
    );
    const size = imports?.block?.find((d) => d.name === 'client_max_body_size')?.args[0];
    const megabytes = /^(\d+)m$/i.exec(size ?? '');
    if (!megabytes) throw new Error(`client_max_body_size ${size} of the imports is not in megabytes`);
    expect(Number(megabytes[1]) * 1024 * 1024).toBe(loadConfig({}).IMPORT_BODY_LIMIT);
  });
});
