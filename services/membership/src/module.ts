import type { ServiceModule } from '@ptce/platform';
import { type WriteSideOptions, writeSideOptions } from '@ptce/write-side';
import { membershipService, membershipTag } from './app.ts';

/** The membership service as a host mounts it: alone (main.ts) or beside the others (standalone). */
export const membershipModule: ServiceModule<WriteSideOptions> = {
  name: 'membership',
  tags: [membershipTag],
  plugin: membershipService,
  options: writeSideOptions,
};
