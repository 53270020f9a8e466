import { dag, task, Variable } from '@dagproc/sdk';
import { DATA_TEAM_DEFAULTS, extractTransformLoad } from './common/etl.ts';

// Read while the file is parsed (top-level await), through the processor's Execution API
// token; the default keeps the file valid where the variable is not set.
const target = await Variable.get('etl_target', { default: 'dev' });

export default dag({
  dagId: 'example_etl',
  description: 'Daily orders feed: extract, clean and load into the warehouse',
  schedule: '@daily',
  startDate: '2026-01-01',
  tags: ['etl', target],
  params: { target, batchSize: 5000 },
  defaultArgs: DATA_TEAM_DEFAULTS,
  doc: 'Orders land in `staging.orders` first; `load_orders` swaps them into `warehouse.orders`.',
  tasks: [
    ...extractTransformLoad('orders', { loadRetries: 5 }),
    task({ taskId: 'refresh_dashboards', upstream: ['load_orders'], retries: 0, owner: 'analytics' }),
  ],
});
