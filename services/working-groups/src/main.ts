import { runServer } from '@ptce/write-side';
import { workingGroupsService } from './app.ts';

await runServer({
  name: 'PTCE Ledger working-groups service',
  plugins: [workingGroupsService],
  exit: (code) => process.exit(code),
});
