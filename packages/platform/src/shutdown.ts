import type { FastifyInstance } from 'fastify';

export interface GracefulShutdownOptions {
  readonly signals?: readonly NodeJS.Signals[];
  /** After the app has closed (its own onClose hooks ran): close what the app does not own. */
  readonly onClose?: () => Promise<void> | void;
  /** Give up waiting for in-flight requests after this long; the exit code is then 1. Default 10 s. */
  readonly timeoutMs?: number;
  /** Called once with the exit code; entry points pass `process.exit`. Library code passes nothing. */
  readonly exit?: (code: number) => void;
}

export interface GracefulShutdown {
  /** Settles with the exit code once a shutdown has run. */
  readonly done: Promise<number>;
  /** Starts the shutdown without a signal (tests, fatal errors). */
  shutdown(reason?: string): Promise<number>;
  /** Removes the signal handlers. */
  uninstall(): void;
}

/**
 * On the first signal: stop accepting connections, let in-flight requests finish, close the app
 * (which closes stores through their onClose hooks), then report the exit code. A second signal
 * while closing is ignored so that an impatient Ctrl-C does not cut requests short; the
 * timeout bounds the wait instead.
 */
export function installGracefulShutdown(
  app: FastifyInstance,
  options: GracefulShutdownOptions = {},
): GracefulShutdown {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const timeoutMs = options.timeoutMs ?? 10_000;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let running: Promise<number> | undefined;

  const shutdown = (reason = 'shutdown requested'): Promise<number> => {
    if (running) return running;
    app.log.info({ reason }, 'shutting down');
    running = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
        timer.unref();
      });
      let code = 0;
      try {
        const outcome = await Promise.race([
          (async () => {
            await app.close();
            await options.onClose?.();
            return 'closed' as const;
          })(),
          timedOut,
        ]);
        if (outcome === 'timeout') {
          app.log.error({ timeoutMs }, 'shutdown timed out');
          code = 1;
        }
      } catch (err) {
        app.log.error({ err }, 'shutdown failed');
        code = 1;
      } finally {
        clearTimeout(timer);
      }
      uninstall();
      resolveDone(code);
      options.exit?.(code);
      return code;
    })();
    return running;
  };

  const handler = (signal: NodeJS.Signals) => {
    void shutdown(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  const uninstall = () => {
    for (const signal of signals) process.off(signal, handler);
  };

  return { done, shutdown, uninstall };
}
