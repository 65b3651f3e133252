import { FEATURE_FLAGS, flagEnabled, readFlag, type EnvRecord } from '@auris/stability-core'
import { createStabilityExporter, resolveExporterOptions, type StabilityExporter, type StabilityExporterOptions } from './exporter.js'

/**
 * The flag-gated entry point (`@auris/prom-exporter/setup`): nothing is
 * created while `AURIS_METRICS_EXP` is off, and nothing here needs
 * prom-client. To register on a prom-client registry behind the same flag,
 * use `setupPrometheusMetrics` from `@auris/prom-exporter/prom-client`.
 */

/** Options of {@link setupPrometheusMetrics}. */
export interface SetupOptions extends StabilityExporterOptions {
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
}

/** Text served when metrics are off, as the reference. */
export const METRICS_DISABLED_TEXT = '# Metrics disabled (AURIS_METRICS_EXP=off)\n'

/** Whether `AURIS_METRICS_EXP` is on, read now. */
export function isMetricsEnabled(env?: EnvRecord): boolean {
  return flagEnabled(FEATURE_FLAGS.metrics, env)
}

/** The exporters set up, one per prefix. */
const defaults = new Map<string, StabilityExporter>()

/**
 * The exporter, or `null` (with nothing created) while `AURIS_METRICS_EXP`
 * is off. Called twice, it returns the same exporter: one per prefix.
 *
 * @throws {RangeError} when an option is invalid (a `registry` belongs to `@auris/prom-exporter/prom-client`'s `setupPrometheusMetrics`).
 * @example
 * ```ts
 * const exporter = await setupPrometheusMetrics()
 * exporter?.track(windows)
 * ```
 */
export async function setupPrometheusMetrics(options: SetupOptions = {}): Promise<StabilityExporter | null> {
  const { env, ...exporterOptions } = options
  if (!isMetricsEnabled(env)) return null
  const { prefix } = resolveExporterOptions('setupPrometheusMetrics', exporterOptions)
  let exporter = defaults.get(prefix)
  if (exporter === undefined) {
    exporter = createStabilityExporter(exporterOptions)
    defaults.set(prefix, exporter)
  }
  return Promise.resolve(exporter)
}

/**
 * The exposition text of the default exporter, or
 * `# Metrics disabled (AURIS_METRICS_EXP=off)` while the flag is off.
 */
export async function getMetricsText(options: SetupOptions = {}): Promise<string> {
  const exporter = await setupPrometheusMetrics(options)
  return exporter === null ? METRICS_DISABLED_TEXT : exporter.metrics()
}

/** The raw value of `AURIS_METRICS_EXP`, for health reports. */
export function metricsFlagValue(env?: EnvRecord): string | undefined {
  return readFlag(FEATURE_FLAGS.metrics, env)
}
