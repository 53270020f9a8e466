export type { BundleCheckout, BundleFile, DagBundle } from './types.ts';
export { BundleUnavailable } from './types.ts';
export { LocalDagBundle } from './local.ts';
export { listDagFiles, isDagFileName, type ListOptions } from './files.ts';
export { hashFile } from './hash.ts';
export { createBundles, defaultBuilders, type BundleBuilders } from './factory.ts';
