import { runServer } from '@ptce/write-side';
import { membershipService } from './app.ts';

await runServer({
  name: 'PTCE Ledger membership service',
  plugins: [membershipService],
  exit: (code) => process.exit(code),
});
