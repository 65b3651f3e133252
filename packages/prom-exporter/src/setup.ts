import { FEATURE_FLAGS, flagEnabled, readFlag, type EnvRecord } from '@auris/stability-core'
import type * as exporterModule from './exporter.js'
import type { StabilityExporter, StabilityExporterOptions } from './exporter.js'

/**
 * The flag-gated entry point (`@auris/prom-exporter/setup`): importing it
 * loads no prom-client. prom-client is imported only when
 * `AURIS_METRICS_EXP` is on and an exporter is asked for.
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

type ExporterModule = typeof exporterModule

let loading: Promise<ExporterModule> | null = null
/** The exporters set up without a registry, one per prefix, each on its own new registry. */
const defaults = new Map<string, StabilityExporter>()

const INSTALL_HINT =
  'prom-client is not installed, and AURIS_METRICS_EXP is on: @auris/prom-exporter needs it as a peer dependency. ' +
  'Install it next to your app: npm install prom-client@^15 (or turn the flag off).'

/**
 * Turns a failed import of the exporter into the error to show: a missing
 * prom-client becomes one clear message that says how to install it.
 *
 * @internal
 */
export function explainLoadError(error: unknown): unknown {
  const text = String((error as { message?: unknown } | null)?.message ?? error)
  if (text.includes('prom-client') && /(cannot find|not found|ERR_MODULE_NOT_FOUND|resolve)/i.test(text)) {
    return new Error(INSTALL_HINT, { cause: error })
  }
  return error
}

/** Imports the exporter (and prom-client with it) once. */
async function loadExporter(): Promise<ExporterModule> {
  loading ??= import('./exporter.js').catch((error: unknown) => {
    loading = null
    throw explainLoadError(error)
  })
  return loading
}

/**
 * The exporter, or `null` (with nothing registered and prom-client not
 * loaded) while `AURIS_METRICS_EXP` is off. Called twice, it returns the same
 * exporter: one per registry and prefix (without a registry: one per prefix,
 * on a registry of its own).
 *
 * @throws {Error} when the flag is on and prom-client is not installed; the message says how to install it.
 * @example
 * ```ts
 * const exporter = await setupPrometheusMetrics()
 * exporter?.track(windows)
 * ```
 */
export async function setupPrometheusMetrics(options: SetupOptions = {}): Promise<StabilityExporter | null> {
  const { env, ...exporterOptions } = options
  if (!isMetricsEnabled(env)) return null
  const mod = await loadExporter()
  const prefix = exporterOptions.prefix ?? 'atlas_'
  if (exporterOptions.registry === undefined) {
    let exporter = defaults.get(prefix)
    if (exporter === undefined) {
      exporter = mod.createStabilityExporter(exporterOptions)
      defaults.set(prefix, exporter)
    }
    return exporter
  }
  return mod.existingExporter(exporterOptions.registry, prefix) ?? mod.createStabilityExporter(exporterOptions)
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
