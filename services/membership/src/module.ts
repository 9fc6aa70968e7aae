import type { ServiceModule } from '@ptce/platform';
import { UpstreamWrites, writeSideOptions } from '@ptce/write-side';
import { type MembershipOptions, membershipService, membershipTag } from './app.ts';

/** The membership service as a host mounts it: alone (main.ts) or beside the others (standalone). */
export const membershipModule: ServiceModule<MembershipOptions> = {
  name: 'membership',
  tags: [membershipTag],
  plugin: membershipService,
  options: (host) => ({
    ...writeSideOptions(host),
    imports: {
      bodyLimit: host.config.IMPORT_BODY_LIMIT,
      maxLines: host.config.IMPORT_MAX_LINES,
      // Split, the lines of the other write services go to them; in one process none is needed.
      upstreams: new UpstreamWrites(host.config.UPSTREAMS),
    },
  }),
};
