import { ConfigError } from '@dagproc/shared/config/env';
import { silentLogger, type Logger } from '@dagproc/shared/log';
import type { BundleConfig, GitBundleConfig, LocalBundleConfig } from '../config.ts';
import { LocalDagBundle } from './local.ts';
import type { DagBundle } from './types.ts';

/**
 * How each kind of bundle is built. The git builder needs the API client (a git bundle reads
 * its Connection through the Execution API) and the storage path, so main.ts plugs it in
 * (GitDagBundle); a caller without one cannot build git bundles.
 */
export interface BundleBuilders {
  local: (config: LocalBundleConfig, logger: Logger) => DagBundle;
  git?: (config: GitBundleConfig, logger: Logger) => DagBundle;
}

export const defaultBuilders: BundleBuilders = {
  local: (config, logger) =>
    new LocalDagBundle(config.name, config.configuredPath, config.refreshInterval, logger, config.path),
};

/** The processor's bundles, in configuration order. Throws a ConfigError for a kind with no builder. */
export function createBundles(
  configs: readonly BundleConfig[],
  options: { logger?: Logger; builders?: BundleBuilders } = {},
): DagBundle[] {
  const logger = options.logger ?? silentLogger;
  const builders = options.builders ?? defaultBuilders;
  return configs.map((config) => {
    const bundleLogger = logger.child({ bundleName: config.name });
    if (config.kind === 'local') return builders.local(config, bundleLogger);
    if (!builders.git) {
      throw new ConfigError(`DAGPROC_BUNDLES: bundle ${JSON.stringify(config.name)} is a git bundle, and no git bundle builder was given`);
    }
    return builders.git(config, bundleLogger);
  });
}
