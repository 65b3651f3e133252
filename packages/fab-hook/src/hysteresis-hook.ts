import { FEATURE_FLAGS, Hysteresis, flagEnabled, type EnvRecord, type FabMode, type HysteresisOptions } from '@auris/stability-core'
import { readTick, type FabCoreLike } from './contract.js'
import { pushSafely, type ExporterErrorReporter, type StabilityExporterLike } from './exporter.js'
import { lastStabilityMetrics } from './hook.js'

/** Options of {@link attachHysteresis}: filter options, plus where flags come from. */
export interface AttachHysteresisOptions extends HysteresisOptions {
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
}

/**
 * An anti-chatter filter for `fab`, or `null` while `AURIS_HYSTERESIS` is
 * off (read now).
 *
 * @throws {RangeError} when a filter option is invalid.
 */
export function attachHysteresis(fab: FabCoreLike, options: AttachHysteresisOptions = {}): Hysteresis | null {
  const { env, ...filterOptions } = options
  if (!flagEnabled(FEATURE_FLAGS.hysteresis, env)) return null
  return new Hysteresis(filterOptions)
}

/** Options of {@link maybeHyst}. */
export interface MaybeHystOptions {
  /** The filter, from {@link attachHysteresis}. */
  hysteresis: Hysteresis
  /** Desired mode source; default: the metrics of the hook's last tick for this core. */
  metrics?: { readonly recommendedMode: FabMode } | null
  /** Tick number; default: the core's tick counter, else one past the filter's last update. */
  tick?: number
  /** Window pushed to the exporter. Default `global`. */
  windowId?: string
  /** Receives the filter after the update while `AURIS_METRICS_EXP` is on (via `updateHysteresis`). */
  exporter?: StabilityExporterLike
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
  onExporterError?: ExporterErrorReporter
}

const counters = new WeakMap<Hysteresis, number>()

/**
 * Feeds the filter the mode recommended by the last stability metrics and
 * returns the effective mode, or `null` while `AURIS_HYSTERESIS` is off or
 * no stability metrics exist yet.
 *
 * @example
 * ```ts
 * const tracker = attachToFab(fabCore)
 * const hysteresis = attachHysteresis(fabCore, { dwellTicks: 50 })
 * // in the FAB loop:
 * if (tracker) maybeTick(fabCore, tracker)
 * const mode = hysteresis ? maybeHyst(fabCore, { hysteresis }) : null
 * if (mode) fabCore.mode = mode
 * ```
 */
export function maybeHyst(fab: FabCoreLike, options: MaybeHystOptions): FabMode | null {
  if (!flagEnabled(FEATURE_FLAGS.hysteresis, options.env)) return null
  const metrics = options.metrics === undefined ? lastStabilityMetrics(fab) : options.metrics
  if (metrics === null || metrics === undefined) return null
  const filter = options.hysteresis
  const tick = options.tick ?? readTick(fab) ?? (counters.get(filter) ?? -1) + 1
  counters.set(filter, tick)
  const mode = filter.update(metrics.recommendedMode, tick)
  const exporter = options.exporter
  if (exporter?.updateHysteresis !== undefined && flagEnabled(FEATURE_FLAGS.metrics, options.env)) {
    const windowId = options.windowId ?? 'global'
    pushSafely(exporter, () => exporter.updateHysteresis?.(windowId, filter), options.onExporterError)
  }
  return mode
}
