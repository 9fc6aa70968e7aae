import { runHost } from '@ptce/platform';
import { snapshotsModule } from './module.ts';

await runHost({
  name: 'PTCE Ledger snapshots service',
  services: [snapshotsModule],
  exit: (code) => process.exit(code),
});
