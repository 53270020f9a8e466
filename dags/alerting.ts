import { dag, task, Variable, type CallbackContext } from '@dagproc/sdk';

/**
 * Posts a run's outcome to the team's alert webhook. The processor runs it for a callback
 * request, with the same Variable access as at parse time.
 */
async function alert(ctx: CallbackContext): Promise<void> {
  const channel = await Variable.get('alerts_channel', { default: '#data-alerts' });
  const webhook = await Variable.get('alerts_webhook_url', { default: null });
  // Without a webhook (a fresh install) the alert has nowhere to go; that is not a failure.
  if (webhook === null || typeof fetch !== 'function') return;
  const text = `${ctx.dagId} ${ctx.callbackType}${ctx.runId === null ? '' : ` (run ${ctx.runId})`}: ${ctx.msg ?? 'no message'}`;
  await fetch(webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, text }) });
}

export default dag({
  dagId: 'billing_invoices',
  description: 'Monthly invoice run; alerts on failure and on success',
  schedule: '0 6 1 * *',
  startDate: '2026-01-01',
  tags: ['billing'],
  params: { currency: 'EUR', dryRun: false },
  defaultArgs: { owner: 'finance', retries: 3, retryDelaySeconds: 900 },
  tasks: [
    task({ taskId: 'collect_usage' }),
    task({ taskId: 'price_usage', upstream: ['collect_usage'] }),
    task({ taskId: 'render_invoices', upstream: ['price_usage'], params: { template: 'invoice-v2' } }),
    task({ taskId: 'send_invoices', upstream: ['render_invoices'], retries: 0, doc: 'Never retried: a retry could email customers twice.' }),
  ],
  onFailure: alert,
  onSuccess: alert,
});
