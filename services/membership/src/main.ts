import { runHost } from '@ptce/platform';
import { membershipModule } from './module.ts';

await runHost({
  name: 'PTCE Ledger membership service',
  services: [membershipModule],
  exit: (code) => process.exit(code),
});
