import { parseArgs } from 'node:util';
import {
  ConfigError,
  loadConfig,
  loadJwtKeys,
  mintToken,
  parseTtl,
  ROLES,
  type Role,
  SLUG,
} from '@ptce/platform';

export interface CliIo {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Exit codes: 0 done, 1 failed, 2 bad usage (as most Unix tools). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export const USAGE = `Usage: ptce <command> [options]

Commands:
  token   Mint a bearer token signed with this deployment's key (DATA_DIR/keys or JWT_PRIVATE_KEY)
          --role <${ROLES.join('|')}>   required
          --ptce <id>                   repeatable; a PTCE id in scope, or '*' for all (admin: default '*')
          --sub <subject>               default 'ptce-cli'
          --ttl <n><s|m|h|d>            default 30d

Configuration comes from the same environment as the server (DATA_DIR, JWT_*, …).
`;

class UsageError extends Error {}

async function token(args: string[], io: CliIo): Promise<number> {
  let values: { role?: string; ptce?: string[]; sub?: string; ttl?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        role: { type: 'string' },
        ptce: { type: 'string', multiple: true },
        sub: { type: 'string' },
        ttl: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const problems: string[] = [];
  const role = values.role;
  if (!role) problems.push('--role is required');
  else if (!(ROLES as readonly string[]).includes(role))
    problems.push(`--role must be one of ${ROLES.join(', ')}`);
  let ptces = values.ptce ?? [];
  if (ptces.length === 0) {
    if (role === 'admin') ptces = ['*'];
    else problems.push('--ptce is required (a PTCE id, repeatable, or "*")');
  }
  if (ptces.includes('*') && ptces.length > 1) problems.push('--ptce "*" cannot be combined with other ids');
  for (const id of ptces) {
    if (id !== '*' && !SLUG.test(id))
      problems.push(`--ptce ${JSON.stringify(id)} is not a PTCE id (${SLUG.source})`);
  }
  const sub = values.sub ?? 'ptce-cli';
  if (sub.trim() === '' || sub.length > 200) problems.push('--sub must be 1 to 200 characters');
  const ttl = parseTtl(values.ttl ?? '30d');
  if (ttl === null) problems.push('--ttl must look like 30d, 12h, 15m or 90s');
  if (problems.length > 0 || !role || ttl === null) throw new UsageError(problems.join('\n'));

  const config = loadConfig(io.env);
  const keys = loadJwtKeys(config);
  if (!keys.privateKey) {
    io.stderr(
      'ptce token: JWT_PUBLIC_KEY is set without JWT_PRIVATE_KEY; this process cannot sign tokens.\n',
    );
    return EXIT_FAILED;
  }
  const jwt = await mintToken({ sub, role: role as Role, ptces, ttl }, keys.privateKey, config);
  io.stdout(`${jwt}\n`);
  return EXIT_OK;
}

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = { token };

/** Runs one command; never exits the process, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? io.stderr : io.stdout)(USAGE);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr(`ptce: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    return await run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`ptce ${command}: ${err.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      io.stderr(`ptce ${command}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr(`ptce ${command}: ${(err as Error).message}\n`);
    return EXIT_FAILED;
  }
}
