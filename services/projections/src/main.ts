import { runHost } from '@ptce/platform';
import { projectionsModule } from './module.ts';

await runHost({
  name: 'PTCE Ledger projections service',
  services: [projectionsModule],
  exit: (code) => process.exit(code),
});
