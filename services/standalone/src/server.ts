import { decisionsService } from '@ptce/decisions';
import { membershipService } from '@ptce/membership';
import type { App, Config, ZodPlugin } from '@ptce/platform';
import { workingGroupsService } from '@ptce/working-groups';
import { buildServer, type ServerOptions, type WriteSideOptions } from '@ptce/write-side';

/**
 * The service plugins mounted in the one-process server. Each is the same plugin a split
 * deployment runs alone behind the gateway, so the URLs are identical in both.
 */
export const servicePlugins: readonly ZodPlugin<WriteSideOptions>[] = [
  membershipService,
  workingGroupsService,
  decisionsService,
];

export type StandaloneOptions = Omit<ServerOptions, 'plugins'>;

/** Every service in one process on the configured event store (the embedded SQLite file by default). */
export function buildStandalone(config: Config, options: StandaloneOptions = {}): Promise<App> {
  return buildServer(config, { title: 'PTCE Ledger', ...options, plugins: servicePlugins });
}
