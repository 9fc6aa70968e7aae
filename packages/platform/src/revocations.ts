import type { RevocationStore } from '@ptce/event-store';
import type { FastifyBaseLogger } from 'fastify';

/** Every service refuses a revoked token within a minute: four refreshes fit in it. */
export const REVOCATION_REFRESH_MS = 15_000;

export interface RevocationListOptions {
  /** Between two reads of the store (default REVOCATION_REFRESH_MS). */
  readonly refreshMs?: number;
  readonly now?: () => number;
  readonly log?: Pick<FastifyBaseLogger, 'warn' | 'info'>;
}

/**
 * The revoked jtis, read from the durable store every `refreshMs`, so the auth hook asks a set
 * in memory rather than a database on every request.
 *
 * When the store cannot be read, the last list read stays in force and the service keeps
 * answering: refusing every token would turn a database or Redis blip into an outage of every
 * service, and on SQLite and PostgreSQL the list lives beside the idempotency keys, so writes are
 * failing anyway. It is not silent: each failure is logged and /health/ready reports
 * `revocations` down (`degraded`) until a read succeeds again.
 */
export class RevocationList {
  private revoked: ReadonlySet<string> = new Set();
  private lastSuccess: number | undefined;
  private lastError: unknown;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly refreshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: RevocationStore,
    private readonly options: RevocationListOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? REVOCATION_REFRESH_MS;
    this.now = options.now ?? Date.now;
  }

  has(jti: string): boolean {
    return this.revoked.has(jti);
  }

  get size(): number {
    return this.revoked.size;
  }

  /** Reads the store once; never rejects (a failure is kept for `check`). */
  refresh(): Promise<void> {
    // A read that hangs must not pile up others behind it; `check` notices it by its age.
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async read(): Promise<void> {
    try {
      const entries = await this.store.list(this.now());
      this.revoked = new Set(entries.map((entry) => entry.jti));
      if (this.lastError !== undefined) this.options.log?.info('revocation list read again');
      this.lastError = undefined;
      this.lastSuccess = this.now();
    } catch (error) {
      this.lastError = error;
      this.options.log?.warn(
        { err: (error as Error).message, revoked: this.revoked.size },
        'revocation list not refreshed: the last one read stays in force',
      );
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A readiness check: rejects while the list in force may be missing recent revocations. */
  async check(): Promise<void> {
    if (this.lastError !== undefined) {
      throw new Error(
        `revocation list not refreshed: ${(this.lastError as Error).message ?? this.lastError}`,
      );
    }
    // Two missed refreshes: a read is hanging, or the timer is not running.
    if (this.lastSuccess === undefined || this.now() - this.lastSuccess > 3 * this.refreshMs) {
      throw new Error('revocation list not refreshed recently');
    }
  }
}
