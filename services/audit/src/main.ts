import { runHost } from '@ptce/platform';
import { auditModule } from './module.ts';

await runHost({
  name: 'PTCE Ledger audit service',
  services: [auditModule],
  exit: (code) => process.exit(code),
});
