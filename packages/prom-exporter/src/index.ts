/**
 * Prometheus and OpenMetrics metrics for stability trackers and
 * anti-chatter filters, with no dependency (prom-client is not imported
 * here: `@auris/prom-exporter/prom-client` is the adapter that puts the
 * families on a prom-client registry), and the alert rules that watch them.
 *
 * @module
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
export {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  contentTypeOf,
  ExpositionLayout,
  SnapshotRenderer,
  type ExpositionFormat,
  type FamilyLayout,
} from './render.js'
export { HAS_FILTER, HAS_HISTOGRAM, HAS_SWITCH_AGE, HAS_TRACKER, type ExporterSample, type ScoreHistogramsSnapshot, type StabilitySnapshot, type WindowLabels } from './snapshot.js'
export { ChunkWriter } from './writer.js'
export { escapeHelp, escapeLabelValue, formatBound, formatValue } from './format.js'
export {
  DEFAULT_PREFIX,
  EXPORTER_FAMILIES,
  FAMILIES,
  HISTOGRAM_FAMILIES,
  LE_LABEL,
  WINDOW_FAMILIES,
  METRIC_NAMES,
  REASON_LABEL,
  WINDOW_LABEL,
  metricNames,
  type ClusterAggregation,
  type ExporterFamilySuffix,
  type FamilyScope,
  type FamilySpec,
  type FamilySuffix,
  type FamilyType,
  type MetricNames,
} from './names.js'
export { METRICS_DISABLED_TEXT, getMetricsText, isMetricsEnabled, metricsFlagValue, setupPrometheusMetrics, type SetupOptions } from './setup.js'
