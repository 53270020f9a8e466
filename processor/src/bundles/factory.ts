import { ConfigError } from '@dagproc/shared/config/env';
import { silentLogger, type Logger } from '@dagproc/shared/log';
import type { BundleConfig, GitBundleConfig, LocalBundleConfig } from '../config.ts';
import { LocalDagBundle } from './local.ts';
import type { DagBundle } from './types.ts';

/**
 * How each kind of bundle is built. A git bundle is another issue: it plugs in here with a
 * `git` builder (fetch in `refresh()`, the checked-out worktree as `root`, the commit as its
 * version), and nothing else in the processor changes.
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
      throw new ConfigError(`DAGPROC_BUNDLES: bundle ${JSON.stringify(config.name)} is a git bundle; git bundles are not supported yet`);
    }
    return builders.git(config, bundleLogger);
  });
}
