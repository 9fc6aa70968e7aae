import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@ptce/platform';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import {
  chooseLocation,
  composeGatewayConfig,
  GATEWAY_TEMPLATE,
  locationsOf,
  parseNginx,
  root,
  SERVICES,
  upstreamOf,
} from './nginx.ts';

const COMPOSE_FILE = path.join(root, 'docker-compose.yml');
const POSTGRES_URL = 'postgres://ptce:ptce@postgres:5432/ptce';

interface ComposeService {
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly image?: string;
  readonly profiles?: readonly string[];
  readonly environment?: Readonly<Record<string, string | number | boolean | null>>;
  readonly volumes?: readonly string[];
  readonly networks?: readonly string[] | Readonly<Record<string, { readonly ipv4_address?: string } | null>>;
}
interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
}

/** `${NAME}`, `${NAME:-default}` and `$$` as docker-compose replaces them, from `variables`. */
function interpolate(text: string, variables: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g,
    (match, name?: string, fallback?: string) => {
      if (match === '$$') return '$';
      const value = variables[name ?? ''];
      return value === undefined || value === '' ? (fallback ?? '') : value;
    },
  );
}

function compose(variables: Readonly<Record<string, string>> = {}): ComposeFile {
  return parse(interpolate(fs.readFileSync(COMPOSE_FILE, 'utf8'), variables), { merge: true }) as ComposeFile;
}

/** The ENV the image sets, under the environment compose gives each container. */
function imageEnvironment(): Record<string, string> {
  const dockerfile = fs.readFileSync(path.join(root, 'infra', 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, name, value] of line.matchAll(/([A-Z_]+)=(\S+)/g)) env[name!] = value!;
  }
  return env;
}

const applicationServices = (file: ComposeFile) =>
  Object.entries(file.services).filter(([, service]) => service.build !== undefined);

function environmentOf(service: ComposeService): Record<string, string> {
  const env = { ...imageEnvironment() };
  for (const [name, value] of Object.entries(service.environment ?? {})) {
    if (value !== null) env[name] = String(value);
  }
  return env;
}

function dockerCompose(): string | undefined {
  const candidates = [
    '/usr/bin/docker-compose',
    ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'docker-compose')),
  ];
  return candidates.find((candidate) => fs.existsSync(candidate));
}

const binary = dockerCompose();
if (!binary && process.env.CI === 'true')
  throw new Error('CI=true: no docker-compose binary to validate docker-compose.yml');
if (!binary)
  process.stdout.write(
    'compose test: no docker-compose (apt-get install docker-compose): its validation is skipped\n',
  );

describe('docker-compose.yml', () => {
  test.skipIf(!binary)('docker-compose validates it, with and without the postgres profile', () => {
    for (const [args, env] of [
      [[], {}],
      [['--profile', 'postgres', '--profile', 'monitoring'], { EVENT_STORE_URL: POSTGRES_URL }],
    ] as const) {
      const result = spawnSync(binary ?? 'docker-compose', ['-f', COMPOSE_FILE, ...args, 'config', '-q'], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    }
  });

  test('runs each service of the gateway from the one image, SERVICE choosing it', () => {
    const file = compose();
    const services = applicationServices(file);
    expect(services.map(([name]) => name).sort()).toEqual([...SERVICES].sort());
    const scripts = (
      JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const [name, service] of services) {
      expect(service.build).toEqual({ context: '.', dockerfile: 'infra/Dockerfile' });
      expect(service.environment?.SERVICE).toBe(name);
      expect(scripts[`start:${name}`]).toContain(`services/${name}/src/main.ts`);
    }
  });

  test("every service's environment passes the configuration schema, on KurrentDB and on PostgreSQL", () => {
    const runs: Record<string, string>[] = [{}, { EVENT_STORE_URL: POSTGRES_URL }];
    for (const variables of runs) {
      for (const [name, service] of applicationServices(compose(variables))) {
        const config = loadConfig(environmentOf(service));
        expect({ name, store: config.EVENT_STORE_URL }).toEqual({
          name,
          store: variables.EVENT_STORE_URL ?? 'kurrentdb://kurrentdb:2113?tls=false',
        });
        // Reachable from the gateway, on the network, with the keys on the shared volume.
        expect(config.HOST).toBe('0.0.0.0');
        expect(config.PORT).toBe(3000);
        expect(config.DATA_DIR).toBe('/data');
        expect(service.volumes).toContain('ptce-data:/data');
        // On KurrentDB, Redis holds the idempotency keys: every service has it.
        expect(config.REDIS_URL).toBe('redis://redis:6379');
      }
    }
  });

  test('the gateway is the only proxy the services trust, and the only port published', () => {
    const file = compose();
    const gateway = file.services.gateway;
    const networks = gateway?.networks as Record<string, { ipv4_address?: string }> | undefined;
    const address = networks?.ptce?.ipv4_address;
    expect(address).toBeDefined();
    for (const [, service] of applicationServices(file)) {
      expect(loadConfig(environmentOf(service)).TRUST_PROXY).toEqual([address]);
      expect(service).not.toHaveProperty('ports');
    }
  });

  test('the gateway renders infra/gateway/nginx.conf with an address for each service', () => {
    const gateway = compose().services.gateway;
    const template = fs.readFileSync(GATEWAY_TEMPLATE, 'utf8');
    expect(gateway?.volumes).toContain(
      './infra/gateway/nginx.conf:/etc/nginx/templates/default.conf.template:ro',
    );
    const env = Object.fromEntries(
      Object.entries(gateway?.environment ?? {}).map(([name, value]) => [name, String(value)]),
    );
    const filter = new RegExp(env.NGINX_ENVSUBST_FILTER ?? '');
    const placeholders = [...new Set([...template.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!))].sort();
    // What the image's envsubst replaces: the variables the filter lets through.
    expect(
      Object.keys(env)
        .filter((name) => filter.test(name))
        .sort(),
    ).toEqual(placeholders);
    for (const service of SERVICES) {
      expect(env[`${service.toUpperCase().replace(/-/g, '_')}_UPSTREAM`]).toBe(`${service}:3000`);
    }
  });

  test('the service the gateway asks for the deployment-wide answers is configured with all the others', () => {
    const nginx = parseNginx(composeGatewayConfig());
    const locations = locationsOf(nginx);
    const askedFor = ['/health/ready', '/docs/json'].map((uri) => {
      const location = chooseLocation(locations, uri);
      return location && upstreamOf(nginx, location, 'GET');
    });
    const [aggregator] = askedFor;
    expect(askedFor).toEqual([aggregator, aggregator]);
    const services = applicationServices(compose());
    for (const [name, service] of services) {
      const { UPSTREAMS } = loadConfig(environmentOf(service));
      if (name !== aggregator) expect(UPSTREAMS).toEqual([]);
      else
        expect(UPSTREAMS).toEqual(
          SERVICES.filter((s) => s !== name).map((s) => ({ name: s, url: `http://${s}:3000` })),
        );
    }
  });

  test("Prometheus scrapes every service's own /metrics", () => {
    const prometheus = parse(
      fs.readFileSync(path.join(root, 'infra', 'prometheus', 'prometheus.yml'), 'utf8'),
    ) as {
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
    expect(targets.sort()).toEqual(SERVICES.map((s) => `${s}:3000`).sort());
  });

  test('Redis keeps what it is given (append-only file): on KurrentDB it holds the idempotency keys', () => {
    const redis = compose().services.redis as ComposeService & { command?: string[] };
    expect(redis.command?.join(' ')).toContain('--appendonly yes');
    expect(redis.volumes).toContain('redis-data:/data');
  });
});
