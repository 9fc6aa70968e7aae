import { ConfigError, installGracefulShutdown, loadConfig } from '@ptce/platform';
import { buildStandalone } from './server.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}

const app = await buildStandalone(config);
installGracefulShutdown(app, { exit: (code) => process.exit(code) });
try {
  await app.listen({
    host: config.HOST,
    port: config.PORT,
    listenTextResolver: (address) =>
      `PTCE Ledger listening on ${address} (docs: ${address}/docs) — mint a token: pnpm --silent ptce token --role secretary --ptce <id>`,
  });
} catch (err) {
  app.log.fatal({ err }, 'could not listen');
  await app.close();
  process.exit(1);
}
