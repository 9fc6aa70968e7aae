import { runServer } from '@ptce/write-side';
import { decisionsService } from './app.ts';

await runServer({
  name: 'PTCE Ledger decisions service',
  plugins: [decisionsService],
  exit: (code) => process.exit(code),
});
