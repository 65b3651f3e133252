/**
 * Hono routes that serve Prometheus metrics from any `MetricsSource` (a
 * prom-client `Registry`, an `@auris/prom-exporter` exporter) on Node, Bun,
 * Deno and Cloudflare Workers.
 *
 * @module
 */
export { MAX_BEARER_TOKEN_LENGTH, checkAuth, type MetricsAuth } from './auth.js'
export { evaluateReadiness, type ReadinessOptions, type ReadinessReport, type ReadinessStatus, type WindowReadiness } from './readiness.js'
export { METRICS_FLAG, metricsRoutes, readMetricsFlag, type MetricsRoutesOptions } from './routes.js'
export { FamilyConflictError, mergeFamilies } from './merge.js'
export {
  InvalidTextError,
  MixedFormatsError,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  SourceTimeoutError,
  checkSources,
  collect,
  isMetricsSource,
  negotiateFormat,
  type Collected,
  type ExpositionBody,
  type ExpositionFormat,
  type MetricsSource,
} from './source.js'
