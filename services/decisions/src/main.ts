import { runHost } from '@ptce/platform';
import { decisionsModule } from './module.ts';

await runHost({
  name: 'PTCE Ledger decisions service',
  services: [decisionsModule],
  exit: (code) => process.exit(code),
});
