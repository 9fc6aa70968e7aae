import type { ServiceModule } from '@ptce/platform';
import { type WriteSideOptions, writeSideOptions } from '@ptce/write-side';
import { decisionsService, decisionsTag } from './app.ts';

/** The decisions service as a host mounts it: alone (main.ts) or beside the others (standalone). */
export const decisionsModule: ServiceModule<WriteSideOptions> = {
  name: 'decisions',
  tags: [decisionsTag],
  plugin: decisionsService,
  options: writeSideOptions,
};
