import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../setup/private-postgres.ts';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const GATEWAY_TEMPLATE = path.join(root, 'infra', 'gateway', 'nginx.conf');

/** The services behind the gateway, each its own process in a split deployment. */
export const SERVICES = [
  'membership',
  'working-groups',
  'decisions',
  'projections',
  'audit',
  'snapshots',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/** `working-groups` → `WORKING_GROUPS_UPSTREAM`, the template's placeholder for its address. */
export const upstreamPlaceholder = (service: string) =>
  `${service.toUpperCase().replace(/-/g, '_')}_UPSTREAM`;

/** Debian's nginx, where the distribution installs it, else the one on PATH; undefined when absent. */
export function nginxBinary(): string | undefined {
  const candidates = [
    '/usr/sbin/nginx',
    ...(process.env.PATH ?? '').split(':').map((dir) => path.join(dir, 'nginx')),
  ];
  return candidates.find((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The template with its placeholders replaced, as envsubst does in the nginx image: every
 * placeholder must be given a value and every value must have its placeholder, so a template and
 * its callers cannot drift apart unnoticed.
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const rendered = template.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for the placeholder \${${name}}`);
    used.add(name);
    return value;
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`no placeholder for ${unused.join(', ')}`);
  return rendered;
}

/** The template's values for upstreams at these `host:port`s, listening on `listen`. */
export function gatewayValues(
  listen: string,
  upstreams: Readonly<Record<ServiceName, string>>,
): Record<string, string> {
  const values: Record<string, string> = { GATEWAY_LISTEN: listen };
  for (const service of SERVICES) values[upstreamPlaceholder(service)] = upstreams[service];
  return values;
}

/** The gateway's configuration as the nginx image renders it for docker-compose.yml. */
export function composeGatewayConfig(): string {
  const upstreams = Object.fromEntries(SERVICES.map((s) => [s, `${s}:3000`])) as Record<ServiceName, string>;
  return renderTemplate(fs.readFileSync(GATEWAY_TEMPLATE, 'utf8'), gatewayValues('8080', upstreams));
}

// ---------------------------------------------------------------------------------------------
// The configuration as nginx reads it: directives, blocks, and which location answers a URI.

export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly block?: readonly Directive[];
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '#') i = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i);
    else if (c === '{' || c === '}' || c === ';') tokens.push(text[i++]!);
    else if (c === '"' || c === "'") {
      let value = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i++];
      }
      i++;
      tokens.push(value);
    } else {
      const start = i;
      while (i < text.length && !/[\s{};]/.test(text[i]!)) i++;
      tokens.push(text.slice(start, i));
    }
  }
  return tokens;
}

export function parseNginx(text: string): Directive[] {
  const tokens = tokenize(text);
  let at = 0;
  const parseBlock = (): Directive[] => {
    const directives: Directive[] = [];
    while (at < tokens.length && tokens[at] !== '}') {
      const name = tokens[at++]!;
      const args: string[] = [];
      while (at < tokens.length && tokens[at] !== ';' && tokens[at] !== '{') args.push(tokens[at++]!);
      if (tokens[at] === '{') {
        at++;
        directives.push({ name, args, block: parseBlock() });
        if (tokens[at++] !== '}') throw new Error(`unclosed block ${name} ${args.join(' ')}`);
      } else {
        if (tokens[at++] !== ';') throw new Error(`directive ${name} without its ;`);
        directives.push({ name, args });
      }
    }
    return directives;
  };
  const directives = parseBlock();
  if (at !== tokens.length) throw new Error('a } closes nothing');
  return directives;
}

export interface Location {
  readonly modifier: '=' | '^~' | '~' | '~*' | '';
  readonly pattern: string;
  readonly body: readonly Directive[];
}

/** The locations of the server block, in order, named ones (`@x`, reached by error_page only) left out. */
export function locationsOf(config: readonly Directive[]): Location[] {
  const server = config.find((d) => d.name === 'server');
  if (!server?.block) throw new Error('no server block');
  return server.block
    .filter((d) => d.name === 'location' && d.block && !d.args[0]?.startsWith('@'))
    .map((d) => {
      const [first = '', second] = d.args;
      if (second === undefined) return { modifier: '', pattern: first, body: d.block ?? [] };
      if (!['=', '^~', '~', '~*'].includes(first)) throw new Error(`unknown location modifier ${first}`);
      return { modifier: first as Location['modifier'], pattern: second, body: d.block ?? [] };
    });
}

function regexOf(location: Location): RegExp {
  // PCRE and JavaScript agree on the patterns a gateway needs: anchors, classes, groups, alternation.
  return new RegExp(location.pattern, location.modifier === '~*' ? 'i' : '');
}

/** Every location whose pattern matches the URI, whether or not nginx would choose it. */
export function matchingLocations(locations: readonly Location[], uri: string): Location[] {
  return locations.filter((location) => {
    if (location.modifier === '=') return location.pattern === uri;
    if (location.modifier === '' || location.modifier === '^~') return uri.startsWith(location.pattern);
    return regexOf(location).test(uri);
  });
}

/**
 * nginx's choice: an exact `=` match; else the longest prefix, kept at once when it is `^~`; else
 * the first regular expression in the file's order that matches; else that longest prefix.
 */
export function chooseLocation(locations: readonly Location[], uri: string): Location | undefined {
  const exact = locations.find((l) => l.modifier === '=' && l.pattern === uri);
  if (exact) return exact;
  let longest: Location | undefined;
  for (const l of locations) {
    if ((l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.pattern)) {
      if (!longest || l.pattern.length > longest.pattern.length) longest = l;
    }
  }
  if (longest?.modifier === '^~') return longest;
  const regex = locations.find((l) => (l.modifier === '~' || l.modifier === '~*') && regexOf(l).test(uri));
  return regex ?? longest;
}

/**
 * Which upstream a location sends a request of this method to: the `proxy_pass` host, through
 * the `map` of $request_method when it names a variable; `nginx` when nginx answers itself.
 */
export function upstreamOf(config: readonly Directive[], location: Location, method: string): string {
  const proxyPass = location.body.find((d) => d.name === 'proxy_pass')?.args[0];
  if (proxyPass === undefined) return 'nginx';
  const host = /^https?:\/\/([^/]+)/.exec(proxyPass)?.[1];
  if (!host) throw new Error(`proxy_pass ${proxyPass} names no host`);
  if (!host.startsWith('$')) return host;
  const http = config.find((d) => d.name === 'http')?.block ?? config;
  const map = http.find((d) => d.name === 'map' && d.args[0] === '$request_method' && d.args[1] === host);
  if (!map?.block) throw new Error(`${host} is not mapped from $request_method`);
  const entry =
    map.block.find((d) => d.name === method.toUpperCase()) ?? map.block.find((d) => d.name === 'default');
  const target = entry?.args[0];
  if (target === undefined) throw new Error(`${host} has no value for ${method}`);
  return target;
}

// ---------------------------------------------------------------------------------------------
// nginx itself, run from a temporary directory, as an unprivileged test can.

export interface RunningGateway {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
  /** nginx's error log so far, for a failure's message. */
  errors(): string;
}

/**
 * nginx with the gateway's template, its upstreams the given `host:port`s: the main context the
 * nginx image provides (pid, logs, temporary files) is written here into a temporary prefix, so
 * nothing under /var or /run is needed.
 */
export async function startGateway(
  binary: string,
  upstreams: Readonly<Record<ServiceName, string>>,
  /** Each client holds one, and each request it forwards one more to a service. */
  workerConnections = 256,
): Promise<RunningGateway> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-gateway-'));
  // Run as root, nginx's workers are `nobody`: they must reach the temporary files in here.
  fs.chmodSync(prefix, 0o755);
  const port = await freePort();
  fs.writeFileSync(
    path.join(prefix, 'gateway.conf'),
    renderTemplate(fs.readFileSync(GATEWAY_TEMPLATE, 'utf8'), gatewayValues(`127.0.0.1:${port}`, upstreams)),
  );
  const at = (name: string) => path.join(prefix, name);
  fs.writeFileSync(
    at('nginx.conf'),
    [
      `pid ${at('nginx.pid')};`,
      `error_log ${at('error.log')} warn;`,
      'worker_processes 1;',
      `events { worker_connections ${workerConnections}; }`,
      'http {',
      `  access_log ${at('access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (kind) => `  ${kind}_temp_path ${at(kind)};`,
      ),
      `  include ${at('gateway.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(binary, ['-p', prefix, '-c', at('nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errors = () => {
    const log = fs.existsSync(at('error.log')) ? fs.readFileSync(at('error.log'), 'utf8') : '';
    return `${stderr}${log}`;
  };
  const stop = async () => {
    // SIGQUIT: nginx's graceful stop, its workers ended with it.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    await exited;
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const message = errors();
      await stop();
      throw new Error(`nginx exited with ${child.exitCode}:\n${message}`);
    }
    const live = await fetch(`${url}/health/live`).catch(() => undefined);
    if (live?.ok) break;
    if (Date.now() > deadline) {
      const message = errors();
      await stop();
      throw new Error(`nginx did not answer in 10 s:\n${message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, child, stop, errors };
}
