import { runHost } from '@ptce/platform';
import { workingGroupsModule } from './module.ts';

await runHost({
  name: 'PTCE Ledger working-groups service',
  services: [workingGroupsModule],
  exit: (code) => process.exit(code),
});
