// The container's health is the service's readiness. A `degraded` service (Redis or the
// revocation list down) still serves, so it stays healthy: restarting it would cure nothing.
const port = process.env.PORT ?? '3000';
try {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
    signal: AbortSignal.timeout(2500),
  });
  const body = await response.json().catch(() => ({}));
  process.exit(response.ok || body.status === 'degraded' ? 0 : 1);
} catch {
  process.exit(1);
}
