import { Registry } from '@dagproc/shared/metrics';

/** Parse times run from milliseconds to DAGPROC_FILE_PARSE_TIMEOUT (50 s by default). */
const PARSE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The processor's Prometheus metrics, served on DAGPROC_PROCESSOR_HEALTH_PORT at /metrics.
 * Airflow's names for the same things, where it has them: dag_processing.import_errors,
 * dag_processing.last_duration, dag_file_queue_size.
 */
export class ProcessorMetrics {
  readonly registry = new Registry();
  readonly filesParsed = this.registry.counter({
    name: 'dagproc_processor_files_parsed_total',
    help: 'DAG files parsed, by bundle and outcome (ok, or import_error: the file failed to load).',
    labelNames: ['bundle', 'outcome'],
  });
  readonly parseDuration = this.registry.histogram({
    name: 'dagproc_processor_parse_duration_seconds',
    help: 'Time to parse one DAG file in its isolated process, by bundle.',
    labelNames: ['bundle'],
    buckets: PARSE_BUCKETS,
  });
  readonly importErrors = this.registry.gauge({
    name: 'dagproc_processor_import_errors',
    help: 'Files whose latest parse was an import error, by bundle.',
    labelNames: ['bundle'],
  });
  readonly bundleFiles = this.registry.gauge({
    name: 'dagproc_processor_bundle_files',
    help: 'DAG files in the bundle at its latest refresh.',
    labelNames: ['bundle'],
  });
  readonly queueLength = this.registry.gauge({
    name: 'dagproc_processor_queue_length',
    help: 'Files waiting to be parsed (priority requests, new files, files due again).',
  });
  readonly parsesInProgress = this.registry.gauge({
    name: 'dagproc_processor_parses_in_progress',
    help: 'Files being parsed now (at most DAGPROC_PARSING_PROCESSES).',
  });
  readonly unsentResults = this.registry.gauge({
    name: 'dagproc_processor_unsent_results',
    help: 'Parse results waiting to be stored through the API.',
  });
  readonly apiFailures = this.registry.counter({
    name: 'dagproc_processor_api_failures_total',
    help: 'Failed API calls, by kind (unavailable: unreachable or 5xx; unauthorized: token refused; rejected: the API refused the call).',
    labelNames: ['kind'],
  });
  readonly apiUp = this.registry.gauge({
    name: 'dagproc_processor_api_up',
    help: '1 while the API answers, 0 while the processor is paused waiting for it.',
  });
  readonly lastHeartbeat = this.registry.gauge({
    name: 'dagproc_processor_last_heartbeat_timestamp_seconds',
    help: 'Unix time of the last Job heartbeat the API accepted (0 before the first).',
  });
  readonly bundleRefreshes = this.registry.counter({
    name: 'dagproc_processor_bundle_refreshes_total',
    help: 'Bundle refreshes (fetch and listing), by bundle and outcome (ok or failed).',
    labelNames: ['bundle', 'outcome'],
  });
  readonly callbacks = this.registry.counter({
    name: 'dagproc_processor_callbacks_total',
    help: 'DAG callbacks run, by outcome (success or failed).',
    labelNames: ['outcome'],
  });
}
