import {
  FEATURE_FLAGS,
  StabilityTracker,
  flagEnabled,
  isStabilityTracker,
  isStabilityWindows,
  rangeError,
  windowIdProblem,
  type EnvRecord,
  type StabilityMetrics,
  type StabilityTrackerOptions,
  type StabilityWindow,
  type StabilityWindows,
} from '@auris/stability-core'
import { SampleReader, readTick, type FabCoreLike } from './contract.js'
import { pushTracker, type ExporterErrorReporter, type StabilityExporterLike } from './exporter.js'

/** Options of {@link attach}: tracker options, plus the reference's names and the hook's wiring. */
export interface AttachOptions extends Omit<StabilityTrackerOptions, 'emaDecay' | 'strict'> {
  /** EMA decay (the reference's name; `emaDecay` is accepted too). Default 0.95. */
  decay?: number
  /** EMA decay under the tracker's name; same as `decay`. */
  emaDecay?: number
  /** Flags are read from here when given, else from `process.env` where it exists; once, at `attach`. */
  env?: EnvRecord
  /** The window fed (with `windows`) and pushed to `exporter` by `tick()` when no id is passed. Default `global`. */
  windowId?: string
  /**
   * Feed window `windowId` of this registry instead of a tracker of the
   * hook's own (tracker options are then the registry's). Any copy of
   * `@auris/stability-core` works: it is recognised by its brand.
   */
  windows?: StabilityWindows
  /** Feed this tracker instead of creating one (tracker options must then be left out). */
  tracker?: StabilityTracker
  /** Pushed after every tick while metrics are on (see `metricsEnabled`). */
  exporter?: StabilityExporterLike
  /**
   * Whether to push to `exporter`: by default `AURIS_METRICS_EXP`, read once
   * at `attach`. A function is called before each push (so a flag can be
   * flipped at run time, at the cost of the call).
   */
  metricsEnabled?: boolean | (() => boolean)
  /** Reports an exporter's first failure (default: one `console.warn`). */
  onExporterError?: ExporterErrorReporter
}

/** What {@link attach} returns. */
export interface AttachedTracker {
  /**
   * The tracker fed: the hook's own, the one passed in, or the registry
   * window's (which changes if the window is evicted and created again).
   * Read the state with `hook.tracker.getMetrics()` when you need it, not
   * on every tick: it builds a fresh object.
   */
  readonly tracker: StabilityTracker
  /**
   * Reads the core, ticks the tracker, pushes to the exporter (if any).
   * Returns whether the sample was used, as `tracker.tick()` does. Never
   * throws, reads no environment, allocates nothing: a core that cannot be
   * read (throws, is `null`, gives a non-number score) is counted in the
   * tracker's `invalidSamples` and leaves its state untouched (`false`).
   * `windowId` names the window pushed to the exporter (default:
   * `options.windowId`); a registry hook always feeds the window it was
   * attached to.
   */
  tick(windowId?: string): boolean
}

/** Hooks by core, for `maybeHyst` and {@link lastStabilityMetrics}: set once, at a hook's first tick. */
const hooks = new WeakMap<object, { readonly tracker: StabilityTracker }>()

function remember(fab: unknown, source: { readonly tracker: StabilityTracker }): void {
  if ((typeof fab === 'object' && fab !== null) || typeof fab === 'function') hooks.set(fab, source)
}

/**
 * The stability metrics of the tracker the hook last ticked for `fab` (from
 * `attach().tick()` or {@link maybeTick}), or `undefined`
 * before the first tick; what `maybeHyst` reads its desired mode from.
 */
export function lastStabilityMetrics(fab: FabCoreLike): StabilityMetrics | undefined {
  return lastTrackerOf(fab)?.getMetrics()
}

/** The tracker the hook last ticked for `fab`. @internal */
export function lastTrackerOf(fab: unknown): StabilityTracker | undefined {
  if ((typeof fab !== 'object' || fab === null) && typeof fab !== 'function') return undefined
  return hooks.get(fab)?.tracker
}

const TRACKER_KEYS = ['minStableTicks', 'cooldownBase', 'cooldownMaxTicks', 'degradationThreshold', 'clock'] as const

function trackerOptions(options: AttachOptions): StabilityTrackerOptions {
  const {
    decay,
    emaDecay,
    env: _env,
    windowId: _windowId,
    windows: _windows,
    tracker: _tracker,
    exporter: _exporter,
    metricsEnabled: _metrics,
    onExporterError: _onError,
    ...rest
  } = options
  if (decay !== undefined && emaDecay !== undefined && decay !== emaDecay) {
    throw new RangeError(`attach: options "decay" (${String(decay)}) and "emaDecay" (${String(emaDecay)}) disagree; pass one`)
  }
  if ((rest as { strict?: unknown }).strict === true) {
    throw rangeError('attach', 'strict', true, 'false or absent: the hook never throws into the FAB loop, it counts bad samples')
  }
  const resolved = emaDecay ?? decay
  const own: StabilityTrackerOptions = resolved === undefined ? rest : { ...rest, emaDecay: resolved }
  const clock = own.clock
  // The tracker reads its clock inside tick() (on an event): a clock that throws or gives a
  // non-number (process.hrtime.bigint, say) would throw into the FAB loop. It reads as NaN
  // instead, which the tracker's clock rule takes as "no time passed".
  return typeof clock === 'function' ? { ...own, clock: containedClock(clock) } : own
}

function containedClock(clock: () => number): () => number {
  return () => {
    try {
      const t: unknown = clock()
      return typeof t === 'number' ? t : Number.NaN
    } catch {
      return Number.NaN
    }
  }
}

/**
 * What both hooks share: the core, the reader, the exporter wiring. Each
 * hook's `tick` is its own small method, so TurboFan inlines the tracker's
 * tick into it (a call left out of line would box the score on every tick).
 */
abstract class BaseHook implements AttachedTracker {
  protected readonly reader = new SampleReader()
  private remembered = false

  constructor(
    protected readonly fab: unknown,
    protected readonly defaultWindow: string,
    private readonly exporter: StabilityExporterLike | null,
    private readonly metrics: boolean | (() => boolean),
    private readonly report: ExporterErrorReporter | undefined,
  ) {}

  abstract get tracker(): StabilityTracker
  abstract tick(windowId?: string): boolean

  /** After the sample: remember the hook for `maybeHyst` (once), push to the exporter (if any). */
  protected after(windowId: string | undefined): void {
    if (!this.remembered) {
      remember(this.fab, this)
      this.remembered = true
    }
    if (this.exporter !== null) this.push(windowId ?? this.defaultWindow)
  }

  private push(windowId: string): void {
    const exporter = this.exporter as StabilityExporterLike
    const metrics = this.metrics
    if (metrics === false) return
    if (metrics !== true) {
      try {
        if (!metrics()) return
      } catch {
        return
      }
    }
    pushTracker(exporter, windowId, this.tracker, this.report)
  }
}

/** A hook feeding a tracker of its own (or one passed in). */
class TrackerHook extends BaseHook {
  constructor(
    fab: unknown,
    defaultWindow: string,
    private readonly own: StabilityTracker,
    exporter: StabilityExporterLike | null,
    metrics: boolean | (() => boolean),
    report: ExporterErrorReporter | undefined,
  ) {
    super(fab, defaultWindow, exporter, metrics, report)
  }

  get tracker(): StabilityTracker {
    return this.own
  }

  tick(windowId?: string): boolean {
    const reader = this.reader
    reader.read(this.fab)
    const used = this.own.tick(reader.score, reader.degraded)
    this.after(windowId)
    return used
  }
}

/** A hook feeding one window of a registry, through the window's handle. */
class WindowHook extends BaseHook {
  private handle: StabilityWindow | undefined
  private current: StabilityTracker

  constructor(
    fab: unknown,
    defaultWindow: string,
    private readonly windows: StabilityWindows,
    exporter: StabilityExporterLike | null,
    metrics: boolean | (() => boolean),
    report: ExporterErrorReporter | undefined,
  ) {
    super(fab, defaultWindow, exporter, metrics, report)
    const handle = windows.acquire(defaultWindow)
    if (handle === undefined) throw new RangeError(`attach: the registry refused window "${defaultWindow}": ${String(windows.maxWindows)} windows (maxWindows) are alive`)
    this.handle = handle
    this.current = handle.tracker
  }

  get tracker(): StabilityTracker {
    return this.current
  }

  tick(windowId?: string): boolean {
    const reader = this.reader
    reader.read(this.fab)
    const score = reader.score
    const handle = this.handle
    // A window counts a non-finite score as invalid (a finite one outside [0, 1] is clamped and used).
    let used = score - score === 0
    if (!handle?.tick(score, reader.degraded)) used = this.reacquire(score, reader.degraded)
    this.after(windowId)
    return used
  }

  /**
   * The rare path: the window was evicted or deleted; create it again. A
   * full registry refuses it (and counts the refusal); the sample is then
   * dropped and the next tick asks again.
   */
  private reacquire(score: number, degraded: boolean): boolean {
    const handle = this.windows.acquire(this.defaultWindow)
    this.handle = handle
    if (handle === undefined) return false
    this.current = handle.tracker
    handle.tick(score, degraded)
    return score - score === 0
  }
}

/**
 * Attaches a stability tracker to a FAB core without touching the core's
 * code. Returns `null` (and creates nothing) while `AURIS_STABILITY_HOOK` is
 * off. Flags are read now, once, from `options.env` or `process.env`: the
 * returned hook's `tick()` reads no environment and allocates nothing.
 *
 * The hook feeds its own tracker, `options.tracker`, or window `windowId`
 * of `options.windows` (a registry from any copy of
 * `@auris/stability-core`).
 *
 * @throws {RangeError} when an option is invalid (a tracker option, a
 *   `windows` that is not a registry, an invalid `windowId`, an `exporter`
 *   without `update`, an `onExporterError` that is not a function, `strict`).
 * @example
 * ```ts
 * const hook = attach(fabCore, { decay: 0.95, minStableTicks: 100, env: { AURIS_STABILITY_HOOK: 'on' } })
 * if (hook) {
 *   fabCore.tick()
 *   hook.tick()                          // true: the sample was used
 *   const m = hook.tracker.getMetrics()  // { stabilityScoreEma, recommendedMode, ... }
 * }
 * ```
 */
export function attach(fab: FabCoreLike | null | undefined, options: AttachOptions = {}): AttachedTracker | null {
  if (!flagEnabled(FEATURE_FLAGS.stabilityHook, options.env)) return null
  const ownOptions = trackerOptions(options)
  const windowId = options.windowId ?? 'global'
  // Checked for every hook, not only registry ones: the id is what the exporter labels the series with.
  const problem = windowIdProblem(windowId)
  if (problem !== null) throw rangeError('attach', 'windowId', windowId, `a valid window id (it ${problem})`)
  const exporter = options.exporter ?? null
  if (exporter !== null && (typeof exporter !== 'object' || typeof (exporter as { update?: unknown }).update !== 'function')) {
    throw rangeError('attach', 'exporter', exporter, 'an object with an update(windowId, tracker) method')
  }
  const report = options.onExporterError
  if (report !== undefined && typeof report !== 'function') throw rangeError('attach', 'onExporterError', report, 'a function')
  let windows: StabilityWindows | null = null
  let own: StabilityTracker | null = null
  if (options.windows !== undefined) {
    if (!isStabilityWindows(options.windows)) throw rangeError('attach', 'windows', options.windows, 'a StabilityWindows registry')
    if (options.tracker !== undefined) throw new RangeError('attach: pass "windows" or "tracker", not both')
    rejectTrackerOptions(options, 'windows')
    if (options.windows.strict) throw rangeError('attach', 'windows', 'a strict registry', 'a registry without strict: the hook never throws into the FAB loop')
    windows = options.windows
  } else if (options.tracker !== undefined) {
    if (!isStabilityTracker(options.tracker)) throw rangeError('attach', 'tracker', options.tracker, 'a StabilityTracker')
    rejectTrackerOptions(options, 'tracker')
    if (options.tracker.strict) throw rangeError('attach', 'tracker', 'a strict tracker', 'a tracker without strict: the hook never throws into the FAB loop')
    own = options.tracker
  } else own = new StabilityTracker(ownOptions)
  const metrics = options.metricsEnabled ?? flagEnabled(FEATURE_FLAGS.metrics, options.env)
  if (typeof metrics !== 'boolean' && typeof metrics !== 'function') throw rangeError('attach', 'metricsEnabled', metrics, 'a boolean or a function')
  if (windows !== null) return new WindowHook(fab, windowId, windows, exporter, metrics, report)
  return new TrackerHook(fab, windowId, own as StabilityTracker, exporter, metrics, report)
}

function rejectTrackerOptions(options: AttachOptions, source: string): void {
  for (const key of [...TRACKER_KEYS, 'decay', 'emaDecay'] as const) {
    if (options[key] !== undefined) throw new RangeError(`attach: option "${key}" cannot be combined with "${source}", which brings its own configuration`)
  }
}

/** The production configuration the reference uses: `minStableTicks` 100, `decay` 0.95. */
export const PRODUCTION_TRACKER: Readonly<StabilityTrackerOptions> = Object.freeze({ minStableTicks: 100, emaDecay: 0.95 })

/**
 * A tracker in the production configuration for `fab`, or `null` while
 * `AURIS_STABILITY_HOOK` is off. Drive it with {@link maybeTick}.
 *
 * @param options - `env`: where the flag is read (default `process.env`
 *   where the runtime has one); `clock`: the tracker's clock in ms (default
 *   `performance.now()`). The tracker options are {@link PRODUCTION_TRACKER}'s;
 *   use {@link attach} for others.
 */
export function attachToFab(fab: FabCoreLike | null | undefined, options: Pick<AttachOptions, 'env' | 'clock'> = {}): StabilityTracker | null {
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
  /** Flags are read from here when given, else from `process.env` where it exists, at each call. */
  env?: EnvRecord
  /** Reports an exporter's first failure (default: one `console.warn`). */
  onExporterError?: ExporterErrorReporter
}

const maybeReader = new SampleReader()

/**
 * Ticks `tracker` from `fab` unless the core's tick counter is not a
 * multiple of `tickInterval` (then returns `null`). The counter is rounded
 * down (2.5 counts as 2); a core without a usable counter (absent, `NaN`,
 * ±Infinity, or unreadable) ticks every call. Pushes to `exporter` when one
 * is given and metrics are on (read at each call: {@link attach} is the
 * path that resolves flags once). Like `attach().tick()`, it never throws
 * on a hostile core: the sample is counted in `invalidSamples`.
 *
 * @throws {RangeError} when `tickInterval` is not a positive integer or
 *   `tracker` is not a tracker.
 * @example
 * ```ts
 * const tracker = attachToFab(fabCore)
 * // in the FAB loop:
 * if (tracker) maybeTick(fabCore, tracker, { tickInterval: 10, exporter })
 * ```
 */
export function maybeTick(fab: FabCoreLike | null | undefined, tracker: StabilityTracker, options: MaybeTickOptions = {}): StabilityMetrics | null {
  const interval = options.tickInterval ?? 1
  if (!Number.isInteger(interval) || interval < 1) {
    throw new RangeError(`maybeTick: option "tickInterval" must be an integer >= 1; got ${String(interval)}`)
  }
  if (!isStabilityTracker(tracker)) throw rangeError('maybeTick', 'tracker', tracker, 'a StabilityTracker')
  const tick = readTick(fab) ?? 0
  if (tick % interval !== 0) return null
  maybeReader.read(fab)
  try {
    tracker.tick(maybeReader.score, maybeReader.degraded)
  } catch {
    // A strict tracker refuses the sample with a RangeError; its state is untouched and the loop goes on.
  }
  if (lastTrackerOf(fab) !== tracker) remember(fab, { tracker })
  const exporter = options.exporter
  if (exporter !== undefined && flagEnabled(FEATURE_FLAGS.metrics, options.env)) {
    pushTracker(exporter, options.windowId ?? 'global', tracker, options.onExporterError)
  }
  return tracker.getMetrics()
}
