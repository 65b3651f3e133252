import { FEATURE_FLAGS, flagEnabled, readFlag, type EnvRecord } from '@auris/stability-core'
import { createStabilityExporter, type StabilityExporter, type StabilityExporterOptions } from './exporter.js'
import type * as adapterModule from './prom-client.js'
import type { PromClientExporterOptions } from './prom-client.js'

/**
 * The flag-gated entry point (`@auris/prom-exporter/setup`): nothing is
 * created while `AURIS_METRICS_EXP` is off, and prom-client is imported only
 * when an exporter is asked for on a prom-client registry.
 */

/** Options of {@link setupPrometheusMetrics}. */
export interface SetupOptions extends StabilityExporterOptions {
  /** A prom-client registry to register the families on (loads `@auris/prom-exporter/prom-client`). Default: none, no prom-client needed. */
  registry?: PromClientExporterOptions['registry']
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
}

/** Text served when metrics are off, as the reference. */
export const METRICS_DISABLED_TEXT = '# Metrics disabled (AURIS_METRICS_EXP=off)\n'

/** Whether `AURIS_METRICS_EXP` is on, read now. */
export function isMetricsEnabled(env?: EnvRecord): boolean {
  return flagEnabled(FEATURE_FLAGS.metrics, env)
}

type AdapterModule = typeof adapterModule

let loading: Promise<AdapterModule> | null = null
/** The exporters set up without a registry, one per prefix, each on its own new registry. */
const defaults = new Map<string, StabilityExporter>()

const INSTALL_HINT =
  'prom-client is not installed, and a prom-client registry was passed: the prom-client adapter needs it as a peer dependency. ' +
  'Install it next to your app: npm install prom-client@^15 (or leave "registry" out: the exporter needs no prom-client).'

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

/** Imports the prom-client adapter (and prom-client with it) once. */
async function loadAdapter(): Promise<AdapterModule> {
  loading ??= import('./prom-client.js').catch((error: unknown) => {
    loading = null
    throw explainLoadError(error)
  })
  return loading
}

/**
 * The exporter, or `null` (with nothing registered and prom-client not
 * loaded) while `AURIS_METRICS_EXP` is off. Called twice, it returns the same
 * exporter: one per registry and prefix (without a registry: one per
 * prefix, needing no prom-client).
 *
 * @throws {Error} when a registry is passed and prom-client is not installed; the message says how to install it.
 * @example
 * ```ts
 * const exporter = await setupPrometheusMetrics()
 * exporter?.track(windows)
 * ```
 */
export async function setupPrometheusMetrics(options: SetupOptions = {}): Promise<StabilityExporter | null> {
  const { env, ...exporterOptions } = options
  if (!isMetricsEnabled(env)) return null
  const prefix = exporterOptions.prefix ?? 'atlas_'
  const { registry, ...neutral } = exporterOptions
  if (registry === undefined) {
    let exporter = defaults.get(prefix)
    if (exporter === undefined) {
      exporter = createStabilityExporter(neutral)
      defaults.set(prefix, exporter)
    }
    return exporter
  }
  const mod = await loadAdapter()
  return mod.existingExporter(registry, prefix) ?? mod.createStabilityExporter({ ...neutral, registry })
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
