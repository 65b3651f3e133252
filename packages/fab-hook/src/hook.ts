import {
  FEATURE_FLAGS,
  StabilityTracker,
  flagEnabled,
  type EnvRecord,
  type StabilityMetrics,
  type StabilityTrackerOptions,
} from '@auris/stability-core'
import { detectDegradation, extractFabScore, readTick, type FabCoreLike } from './contract.js'
import { pushSafely, type ExporterErrorReporter, type StabilityExporterLike } from './exporter.js'

/** Options of {@link attach}: tracker options, plus the reference's names and the hook's wiring. */
export interface AttachOptions extends Omit<StabilityTrackerOptions, 'emaDecay'> {
  /** EMA decay (the reference's name; `emaDecay` is accepted too). Default 0.95. */
  decay?: number
  emaDecay?: number
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
  /** Window pushed to `exporter` by `tick()` when no id is passed. Default `global`. */
  windowId?: string
  /** Pushed after every tick while `AURIS_METRICS_EXP` is on. */
  exporter?: StabilityExporterLike
  /** Reports an exporter's first failure (default: one `console.warn`). */
  onExporterError?: ExporterErrorReporter
}

/** What {@link attach} returns. */
export interface AttachedTracker {
  readonly tracker: StabilityTracker
  /** Reads the core, ticks the tracker, pushes to the exporter (if any), and returns the tracker's state. */
  tick(windowId?: string): StabilityMetrics
}

const lastMetrics = new WeakMap<object, StabilityMetrics>()

/**
 * The stability metrics of the last tick the hook made for `fab` (from
 * `attach().tick()` or {@link maybeTick}); what `maybeHyst` reads its
 * desired mode from.
 */
export function lastStabilityMetrics(fab: FabCoreLike): StabilityMetrics | undefined {
  return lastMetrics.get(fab)
}

function trackerOptions(options: AttachOptions): StabilityTrackerOptions {
  const { decay, emaDecay, env: _env, windowId: _windowId, exporter: _exporter, onExporterError: _onError, ...rest } = options
  if (decay !== undefined && emaDecay !== undefined && decay !== emaDecay) {
    throw new RangeError(`attach: options "decay" (${String(decay)}) and "emaDecay" (${String(emaDecay)}) disagree; pass one`)
  }
  const resolved = emaDecay ?? decay
  return resolved === undefined ? rest : { ...rest, emaDecay: resolved }
}

/** Ticks `tracker` from `fab`, records the metrics for `maybeHyst`, pushes to the exporter. */
function tickFrom(fab: FabCoreLike, tracker: StabilityTracker, windowId: string, options: Pick<AttachOptions, 'exporter' | 'env' | 'onExporterError'>): StabilityMetrics {
  tracker.tick(extractFabScore(fab), detectDegradation(fab))
  const metrics = tracker.getMetrics()
  if (typeof fab === 'object') lastMetrics.set(fab, metrics)
  const exporter = options.exporter
  if (exporter !== undefined && flagEnabled(FEATURE_FLAGS.metrics, options.env)) {
    pushSafely(exporter, () => {
      exporter.update(windowId, tracker)
    }, options.onExporterError)
  }
  return metrics
}

/**
 * Attaches a stability tracker to a FAB core without touching the core's
 * code. Returns `null` (and creates nothing) while `AURIS_STABILITY_HOOK` is
 * off; the flag is read now, from `options.env` or `process.env`.
 *
 * @throws {RangeError} when a tracker option is invalid.
 * @example
 * ```ts
 * const hook = attach(fabCore, { decay: 0.95, minStableTicks: 100, env: { AURIS_STABILITY_HOOK: 'on' } })
 * if (hook) {
 *   fabCore.tick()
 *   const m = hook.tick()   // { stabilityScoreEma, recommendedMode, ... }
 * }
 * ```
 */
export function attach(fab: FabCoreLike, options: AttachOptions = {}): AttachedTracker | null {
  if (!flagEnabled(FEATURE_FLAGS.stabilityHook, options.env)) return null
  const tracker = new StabilityTracker(trackerOptions(options))
  const defaultWindow = options.windowId ?? 'global'
  return {
    tracker,
    tick: (windowId = defaultWindow) => tickFrom(fab, tracker, windowId, options),
  }
}

/** The production configuration the reference uses: `minStableTicks` 100, `decay` 0.95. */
export const PRODUCTION_TRACKER: Readonly<StabilityTrackerOptions> = Object.freeze({ minStableTicks: 100, emaDecay: 0.95 })

/**
 * A tracker in the production configuration for `fab`, or `null` while
 * `AURIS_STABILITY_HOOK` is off. Drive it with {@link maybeTick}.
 */
export function attachToFab(fab: FabCoreLike, options: Pick<AttachOptions, 'env' | 'clock' | 'strict'> = {}): StabilityTracker | null {
  const hook = attach(fab, { ...PRODUCTION_TRACKER, ...options })
  return hook === null ? null : hook.tracker
}

/** Options of {@link maybeTick}. */
export interface MaybeTickOptions {
  /** Window pushed to the exporter. Default `global`. */
  windowId?: string
  /** Tick only when the core's tick counter is a multiple of this. Positive integer. Default 1. */
  tickInterval?: number
  /** Pushed after the tick while `AURIS_METRICS_EXP` is on; a throwing exporter never breaks the loop. */
  exporter?: StabilityExporterLike
  /** Flags are read from here when given, else from `process.env` where it exists. */
  env?: EnvRecord
  /** Reports an exporter's first failure (default: one `console.warn`). */
  onExporterError?: ExporterErrorReporter
}

/**
 * Ticks `tracker` from `fab` unless the core's tick counter is not a
 * multiple of `tickInterval` (then returns `null`). A core without a tick
 * counter ticks every call. Pushes to `exporter` when one is given and
 * metrics are on.
 *
 * @throws {RangeError} when `tickInterval` is not a positive integer.
 * @example
 * ```ts
 * const tracker = attachToFab(fabCore)
 * // in the FAB loop:
 * if (tracker) maybeTick(fabCore, tracker, { tickInterval: 10, exporter })
 * ```
 */
export function maybeTick(fab: FabCoreLike, tracker: StabilityTracker, options: MaybeTickOptions = {}): StabilityMetrics | null {
  const interval = options.tickInterval ?? 1
  if (!Number.isInteger(interval) || interval < 1) {
    throw new RangeError(`maybeTick: option "tickInterval" must be an integer >= 1; got ${String(interval)}`)
  }
  const tick = readTick(fab) ?? 0
  if (tick % interval !== 0) return null
  return tickFrom(fab, tracker, options.windowId ?? 'global', options)
}
