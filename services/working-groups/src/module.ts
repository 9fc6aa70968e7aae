import type { ServiceModule } from '@ptce/platform';
import { type WriteSideOptions, writeSideOptions } from '@ptce/write-side';
import { workingGroupsService, workingGroupsTag } from './app.ts';

/** The working-groups service as a host mounts it: alone (main.ts) or beside the others (standalone). */
export const workingGroupsModule: ServiceModule<WriteSideOptions> = {
  name: 'working-groups',
  tags: [workingGroupsTag],
  plugin: workingGroupsService,
  options: writeSideOptions,
};
