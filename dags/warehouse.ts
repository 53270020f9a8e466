// Several DAGs in one file: a named export, and an exported array built in a loop (Airflow's
// "dynamic DAGs" pattern). Each needs its own dagId.
import { dag, task } from '@dagproc/sdk';
import { DATA_TEAM_DEFAULTS, extractTransformLoad } from './common/etl.ts';

export const warehouseMaintenance = dag({
  dagId: 'warehouse_maintenance',
  description: 'Weekly vacuum and statistics refresh',
  schedule: '30 2 * * SUN',
  startDate: '2026-01-04T02:30:00Z',
  catchup: false,
  maxActiveRuns: 1,
  tags: ['warehouse', 'maintenance'],
  defaultArgs: { owner: 'platform', retries: 1 },
  tasks: [
    // Dependencies written the Airflow way round: vacuum >> analyze >> report.
    task({ taskId: 'vacuum', downstream: ['analyze'], retryDelaySeconds: 600 }),
    task({ taskId: 'analyze', downstream: ['report_table_sizes'] }),
    task({ taskId: 'report_table_sizes', retries: 0 }),
  ],
});

const REGIONS = ['eu', 'us', 'apac'] as const;

export const regionalSyncs = REGIONS.map((region, i) =>
  dag({
    dagId: `warehouse_sync_${region}`,
    description: `Hourly customer sync for the ${region.toUpperCase()} region`,
    // Staggered so the regions do not all hit the warehouse on the hour.
    schedule: `${i * 15} * * * *`,
    startDate: '2026-01-01',
    tags: ['warehouse', 'sync', region],
    params: { region, tables: ['customers', 'accounts'] },
    defaultArgs: DATA_TEAM_DEFAULTS,
    tasks: extractTransformLoad('customers'),
  }),
);
