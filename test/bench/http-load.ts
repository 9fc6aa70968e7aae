import autocannon from 'autocannon';

/**
 * Requests per second of GETs to `pathOf(n)` for n = seed + 1, seed + 2, … with 32 connections for
 * `seconds`, a bearer token on each. Any error, timeout or answer other than 2xx makes the figure
 * meaningless: it throws instead of reporting it.
 */
export async function getLoad(
  url: string,
  token: string,
  pathOf: (n: number) => string,
  options: { readonly seed: number; readonly seconds: number; readonly connections?: number },
): Promise<number> {
  let n = options.seed;
  const result = await autocannon({
    url,
    connections: options.connections ?? 32,
    duration: options.seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          n++;
          return { ...req, path: pathOf(n), headers: { authorization: `Bearer ${token}` } };
        },
      },
    ],
  });
  const failures = result.errors + result.timeouts + result.non2xx;
  if (failures > 0 || result['2xx'] === 0) {
    throw new Error(
      `${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx of ${result.requests.total} requests: the figure would be meaningless`,
    );
  }
  return result.requests.average;
}
