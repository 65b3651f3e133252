import { FEATURE_FLAGS, Hysteresis, flagEnabled, isHysteresis, rangeError, type EnvRecord, type FabMode, type HysteresisOptions } from '@auris/stability-core'
import { readTick, type FabCoreLike } from './contract.js'
import { pushHysteresis, type ExporterErrorReporter, type StabilityExporterLike } from './exporter.js'
import { lastTrackerOf } from './hook.js'

/** Options of {@link attachHysteresis}: filter options, plus where flags come from. */
export interface AttachHysteresisOptions extends Omit<HysteresisOptions, 'strict'> {
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
}

/**
 * An anti-chatter filter for `fab`, or `null` while `AURIS_HYSTERESIS` is
 * off (read now).
 *
 * @throws {RangeError} when a filter option is invalid.
 * @example
 * ```ts
 * const hysteresis = attachHysteresis(fabCore, { dwellTicks: 50, env: { AURIS_HYSTERESIS: 'on' } })
 * ```
 */
export function attachHysteresis(_fab: FabCoreLike | null | undefined, options: AttachHysteresisOptions = {}): Hysteresis | null {
  const { env, ...filterOptions } = options
  if (!flagEnabled(FEATURE_FLAGS.hysteresis, env)) return null
  if ((filterOptions as { strict?: unknown }).strict === true) {
    throw rangeError('attachHysteresis', 'strict', true, 'false or absent: the hook never throws into the FAB loop, it counts bad updates')
  }
  return new Hysteresis(filterOptions)
}

/** Options of {@link maybeHyst}. */
export interface MaybeHystOptions {
  /** The filter, from {@link attachHysteresis}. */
  hysteresis: Hysteresis
  /** Desired mode source; default: the mode recommended by the tracker the hook last ticked for this core. */
  metrics?: {
    /** The mode asked of the filter. */
    readonly recommendedMode: FabMode
  } | null
  /** Tick number; default: the core's tick counter (see the tick rule on {@link maybeHyst}). */
  tick?: number
  /** Window pushed to the exporter. Default `global`. */
  windowId?: string
  /** Receives the filter after the update while `AURIS_METRICS_EXP` is on (via `updateHysteresis`). */
  exporter?: StabilityExporterLike
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
  /** Reports an exporter's first failure (default: one `console.warn`). */
  onExporterError?: ExporterErrorReporter
}

/** The last tick the hook fed each filter: a mutable cell per filter, so a tick allocates nothing. */
const lastFed = new WeakMap<Hysteresis, { tick: number }>()

/**
 * Feeds the filter the mode recommended by the last stability metrics and
 * returns the effective mode, or `null` while `AURIS_HYSTERESIS` is off or
 * no stability metrics exist yet.
 *
 * The tick rule: the tick is `options.tick`, else the core's counter, rounded
 * down to an integer. A tick that is missing, not a finite number, or below
 * the last one this hook fed the filter (a core restarted, a counter
 * wrapped) is replaced by the last one plus 1. So the filter always moves
 * forward and is never frozen by one bad value. A core that throws or is
 * `null` gets the same treatment: it never throws into the loop.
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
export function maybeHyst(fab: FabCoreLike | null | undefined, options: MaybeHystOptions): FabMode | null {
  if (!flagEnabled(FEATURE_FLAGS.hysteresis, options.env)) return null
  const filter = options.hysteresis
  if (!isHysteresis(filter)) throw rangeError('maybeHyst', 'hysteresis', filter, 'a Hysteresis filter')
  let desired: unknown
  try {
    desired = options.metrics === undefined ? lastTrackerOf(fab)?.recommendMode() : options.metrics?.recommendedMode
  } catch {
    desired = undefined
  }
  if (desired === undefined || desired === null) return null
  let cell = lastFed.get(filter)
  if (cell === undefined) {
    cell = { tick: -Infinity }
    lastFed.set(filter, cell)
  }
  const given = options.tick ?? readTick(fab)
  let tick = typeof given === 'number' && given - given === 0 ? Math.floor(given) : Number.NaN
  if (!(tick >= cell.tick)) tick = cell.tick === -Infinity ? 0 : cell.tick + 1
  cell.tick = tick
  let mode: FabMode
  try {
    // Not a FAB mode: the filter counts it in invalidUpdates and keeps its state.
    mode = filter.update(desired as FabMode, tick)
  } catch {
    // A strict filter refuses it with a RangeError instead; the loop goes on.
    mode = filter.effectiveMode
  }
  const exporter = options.exporter
  if (exporter !== undefined && flagEnabled(FEATURE_FLAGS.metrics, options.env)) {
    pushHysteresis(exporter, options.windowId ?? 'global', filter, options.onExporterError)
  }
  return mode
}
