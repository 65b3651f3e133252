/**
 * @module
 * Prometheus metrics for stability trackers and anti-chatter filters, on a
 * prom-client registry, and the alert rules that watch them. For a gate that loads no prom-client while
 * `AURIS_METRICS_EXP` is off, import `setupPrometheusMetrics` from
 * `@auris/prom-exporter/setup` instead.
 */
export {
  AGGREGATION,
  DEFAULT_RUNBOOK_BASE,
  alertProbes,
  alertRules,
  type AlertOptions,
  type AlertRule,
  type RuleFile,
  type RuleGroup,
  type RuleProbe,
} from './alerts.js'
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
