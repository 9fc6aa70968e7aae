import type { Ledger } from '@ptce/domain';
import { ProblemError } from '@ptce/platform';
import type { z } from 'zod';
import type { WriteCommand, WriteDeps } from './execute.ts';
import type { WriteContext } from './write-context.ts';

/** A write route as an import runs it: the same schemas, the same preparation, the same store. */
export interface CatalogedWrite {
  readonly method: 'POST' | 'PATCH';
  /** Fastify's pattern: `/v1/ptces/:ptceId/members`. */
  readonly url: string;
  readonly params?: z.ZodType;
  readonly body: z.ZodType;
  /** What it answers when it records: 201 or 200. */
  readonly status: 200 | 201;
  readonly deps: WriteDeps<Ledger>;
  /**
   * Whether preparing it reads the ledger as stored (the keys of a person it names, an erasure):
   * every write before it must then be stored first.
   */
  readsStoredLedger(body: unknown): boolean;
  /**
   * Authorizes, asks the route, and gives the command `executeWrite` runs; refusals are thrown.
   * For a `check` (a dry run) nothing is done beside: no erasure, no key made, nothing sealed.
   * Given `ptceId`, a write of another PTCE is refused before anything is done for it.
   */
  prepare(
    params: unknown,
    body: unknown,
    context: WriteContext,
    options?: PrepareOptions,
  ): Promise<WriteCommand<Ledger>>;
}

export interface PrepareOptions {
  readonly purpose?: 'write' | 'check';
  /** The only PTCE the write may name (an import's). */
  readonly ptceId?: string;
}

export interface MatchedWrite {
  readonly write: CatalogedWrite;
  /** The path's parameters, percent-decoded, before their schema has parsed them. */
  readonly params: Readonly<Record<string, string>>;
}

interface Pattern {
  readonly write: CatalogedWrite;
  /** A fixed segment, or null where the pattern takes a parameter. */
  readonly segments: readonly (string | null)[];
  readonly names: readonly string[];
}

/**
 * The write routes mounted in one process, found by method and path as the router would find
 * them. The write services of a host add theirs to one catalogue, so that an import runs each
 * line through the route that owns it without a round trip over HTTP.
 */
export class WriteCatalog {
  private readonly patterns: Pattern[] = [];

  add(write: CatalogedWrite): void {
    const parts = write.url.split('/');
    if (this.patterns.some((p) => p.write.method === write.method && p.write.url === write.url)) {
      throw new Error(`${write.method} ${write.url} is in the catalogue twice`);
    }
    this.patterns.push({
      write,
      segments: parts.map((part) => (part.startsWith(':') ? null : part)),
      names: parts.filter((part) => part.startsWith(':')).map((part) => part.slice(1)),
    });
    // Fixed segments first, as the router prefers them: `/spaces/new` before `/spaces/:spaceId`.
    this.patterns.sort((a, b) => fixedCount(b) - fixedCount(a));
  }

  get size(): number {
    return this.patterns.length;
  }

  match(method: string, path: string): MatchedWrite | undefined {
    const parts = path.split('/');
    for (const pattern of this.patterns) {
      if (pattern.write.method !== method || pattern.segments.length !== parts.length) continue;
      const values: string[] = [];
      let matches = true;
      for (let i = 0; i < parts.length && matches; i++) {
        const fixed = pattern.segments[i];
        const part = parts[i]!;
        if (fixed === null) {
          const value = decodedSegment(part);
          if (value === undefined || value === '') matches = false;
          else values.push(value);
        } else if (fixed !== part) {
          matches = false;
        }
      }
      if (matches) {
        return {
          write: pattern.write,
          params: Object.fromEntries(pattern.names.map((name, i) => [name, values[i]!])),
        };
      }
    }
    return undefined;
  }
}

const fixedCount = (pattern: Pattern) => pattern.segments.filter((s) => s !== null).length;

function decodedSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A write of an import that names another PTCE than the import's. */
export function lineOutsidePtce(ptceId: string, named: string): ProblemError {
  return new ProblemError(
    422,
    'line_outside_ptce',
    `The line writes to the PTCE ${named}; an import into ${ptceId} writes to ${ptceId} only.`,
  );
}
