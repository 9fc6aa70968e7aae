import { runServer } from '@ptce/write-side';
import { servicePlugins } from './server.ts';

await runServer({ name: 'PTCE Ledger', plugins: servicePlugins, exit: (code) => process.exit(code) });
