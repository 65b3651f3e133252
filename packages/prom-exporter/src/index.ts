/**
 * @module
 * Prometheus metrics for stability trackers and anti-chatter filters, on a
 * prom-client registry. For a gate that loads no prom-client while
 * `AURIS_METRICS_EXP` is off, import `setupPrometheusMetrics` from
 * `@auris/prom-exporter/setup` instead.
 */
export { StabilityExporter, createStabilityExporter, type RejectionReason, type StabilityExporterOptions } from './exporter.js'
export { escapeHelp, escapeLabelValue, formatValue } from './format.js'
export {
  DEFAULT_PREFIX,
  FAMILIES,
  METRIC_NAMES,
  REASON_LABEL,
  WINDOW_LABEL,
  metricNames,
  type FamilyScope,
  type FamilySpec,
  type FamilySuffix,
  type FamilyType,
  type MetricNames,
} from './names.js'
export { METRICS_DISABLED_TEXT, getMetricsText, isMetricsEnabled, metricsFlagValue, setupPrometheusMetrics, type SetupOptions } from './setup.js'
