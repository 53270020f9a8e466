// A plain JavaScript DAG file: no types, the same SDK.
import { dag, task } from '@dagproc/sdk';

const extract = task({ taskId: 'extract_kpis', owner: 'analytics' });
const render = task({ taskId: 'render_report', upstream: [extract] });
const publish = task({ taskId: 'publish_report', upstream: [render], params: { recipients: ['leadership@example.com'] } });

export default dag({
  dagId: 'weekly_kpi_report',
  description: 'KPI report for the Monday leadership meeting',
  schedule: '0 7 * * MON',
  // A Date is stored as its ISO string; a fixed one keeps every parse identical.
  startDate: new Date(Date.UTC(2026, 0, 5)),
  endDate: '2026-12-31',
  maxActiveRuns: 1,
  tags: ['reports', 'kpi'],
  tasks: [extract, render, publish],
});
