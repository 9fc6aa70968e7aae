import { runHost } from '@ptce/platform';
import { serviceModules } from './server.ts';

await runHost({ name: 'PTCE Ledger', services: serviceModules, exit: (code) => process.exit(code) });
