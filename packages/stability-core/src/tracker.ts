import { monotonicClock, type Clock } from './clock.js'
import { EventWindow } from './event-window.js'
import { STABILITY_KIND, brand } from './kind.js'
import { modeForEma, type FabMode } from './modes.js'
import { SnapshotReader, guardRead } from './snapshot-error.js'
import {
  T_STABLE,
  T_COUNT,
  T_COOLDOWN,
  T_EMA,
  T_LAST,
  T_TICKS,
  T_TOTAL,
  TRACKER_SLOTS,
  stepTracker,
  initTracker,
  trackerParams,
  trackerScore,
  cooldownFor,
  modeName,
  type TrackerParams,
} from './state.js'
import { ScoreHistogramState, sameBuckets, scoreBucketsOption, type ScoreHistogram } from './score-histogram.js'
import { Emitter, transition, type TransitionListener } from './transitions.js'
import { booleanOption, checkOptionKeys, describeValue, functionOption, numberOption, rangeError, restoreOptions } from './validate.js'

/** Options of {@link StabilityTracker}. Every field is validated at construction. */
export interface StabilityTrackerOptions {
  /** Stable ticks needed for a score of 1. Integer in [1, 1e9]. Default 100. */
  minStableTicks?: number
  /** EMA decay: `ema = emaDecay * ema + (1 - emaDecay) * score`. In [0, 1). Default 0.95. */
  emaDecay?: number
  /** Cool-down after the n-th degradation lasts `min(trunc(cooldownBase ** n), cooldownMaxTicks)` ticks. In [1, 1e6]. Default 2. */
  cooldownBase?: number
  /** Longest cool-down, in ticks: the cool-down saturates here however many events happen. Integer in [0, 1e9]. Default 10000. */
  cooldownMaxTicks?: number
  /** A score drop of at least this much from the previous tick counts as a degradation. In (0, 1]. Default 0.1. */
  degradationThreshold?: number
  /** Clock in ms used to time degradation events. Default: `performance.now()`. */
  clock?: Clock
  /** Throw a `RangeError` on an invalid sample instead of ignoring and counting it. Default false. */
  strict?: boolean
  /**
   * Upper bounds of a histogram of the instantaneous score, observed on
   * every accepted tick (read with `tracker.getScoreHistogram()`);
   * `+Inf` is implied. Non-empty, at most 64 finite numbers, strictly
   * increasing. Opt-in: without it there is no histogram and the tick costs
   * what it cost before. `DEFAULT_SCORE_BUCKETS` is a sensible choice.
   * Once set, the bounds cannot change (counts in place cannot be re-bucketed).
   */
  scoreBuckets?: readonly number[]
}

/** The validated, JSON-safe configuration of a tracker (no clock). */
export interface StabilityTrackerConfig {
  /** {@inheritDoc StabilityTrackerOptions.minStableTicks} */
  readonly minStableTicks: number
  /** {@inheritDoc StabilityTrackerOptions.emaDecay} */
  readonly emaDecay: number
  /** {@inheritDoc StabilityTrackerOptions.cooldownBase} */
  readonly cooldownBase: number
  /** {@inheritDoc StabilityTrackerOptions.cooldownMaxTicks} */
  readonly cooldownMaxTicks: number
  /** {@inheritDoc StabilityTrackerOptions.degradationThreshold} */
  readonly degradationThreshold: number
  /** Upper bounds of the score histogram; absent when there is none. */
  readonly scoreBuckets?: readonly number[]
}

/** The reference implementation's defaults. */
export const TRACKER_DEFAULTS: StabilityTrackerConfig = Object.freeze({
  minStableTicks: 100,
  emaDecay: 0.95,
  cooldownBase: 2,
  cooldownMaxTicks: 10_000,
  degradationThreshold: 0.1,
})

/** Length of the "events per hour" window. */
export const HOUR_MS = 3_600_000

/** State of a tracker, as {@link StabilityTracker.getMetrics} returns it. */
export interface StabilityMetrics {
  /** Instantaneous score in [0, 1]: 0 in a cool-down, else `min(1, stableTicks / minStableTicks)`. */
  stabilityScore: number
  /** Exponential moving average of the score, in [0, 1]; starts at 1. */
  stabilityScoreEma: number
  /**
   * Degradation events in the last 3600 s of the tracker's clock, counted
   * in 60 buckets of one minute: never below the exact count, never above
   * it by more than the events of one minute (see {@link EventWindow}).
   */
  degradationEventsPerHour: number
  /** Whether a cool-down is running. */
  isInCooldown: boolean
  /** Cool-down ticks left. */
  cooldownRemaining: number
  /** Degradation events since construction or the last `reset()`. */
  degradationCount: number
  /** Degradation events over the tracker's whole life; never decreases, not even across `reset()`. */
  totalDegradations: number
  /** Consecutive ticks without an event, outside cool-downs. */
  stableTicks: number
  /** `FAB2` when the EMA is >= 0.8, `FAB1` when >= 0.5, else `FAB0`. */
  recommendedMode: FabMode
  /** `stableTicks >= minStableTicks` and no cool-down running. */
  isStable: boolean
  /** Valid samples processed over the tracker's life. */
  ticks: number
  /** Samples ignored because the score was not a finite number or `degraded` not a boolean (life-time). */
  invalidSamples: number
  /** Finite scores outside [0, 1] that were clamped (life-time). */
  clampedSamples: number
}

/** A versioned, JSON-safe snapshot of a tracker. */
export interface StabilityTrackerSnapshot {
  /** Always {@link TRACKER_SNAPSHOT_FORMAT}: tells a tracker snapshot from any other JSON. */
  readonly format: typeof TRACKER_SNAPSHOT_FORMAT
  /** Layout version of the snapshot; `fromJSON` refuses versions it does not know. */
  readonly version: 1
  /** The configuration the tracker ran with. */
  readonly config: StabilityTrackerConfig
  /** The counters and averages, as of the snapshot. */
  readonly state: {
    /** See {@link StabilityMetrics.stableTicks}. */
    readonly stableTicks: number
    /** See {@link StabilityMetrics.degradationCount}. */
    readonly degradationCount: number
    /** See {@link StabilityMetrics.totalDegradations}. */
    readonly totalDegradations: number
    /** See {@link StabilityMetrics.cooldownRemaining}. */
    readonly cooldownRemaining: number
    /** See {@link StabilityMetrics.stabilityScoreEma}. */
    readonly ema: number
    /** The previous valid score (what the next score is compared with); `null` before the first tick. */
    readonly lastScore: number | null
    /** See {@link StabilityMetrics.ticks}. */
    readonly ticks: number
    /** See {@link StabilityMetrics.invalidSamples}. */
    readonly invalidSamples: number
    /** See {@link StabilityMetrics.clampedSamples}. */
    readonly clampedSamples: number
    /** Degradation events in the last hour as `[ageMs, count]`, oldest first, ages taken when the snapshot was made. */
    readonly events: readonly (readonly [number, number])[]
    /** The score histogram, present exactly when `config.scoreBuckets` is: per-bucket (not cumulative) counts, `+Inf` last. */
    readonly scoreHistogram?: {
      /** Ticks per bucket of `config.scoreBuckets`, `+Inf` last (not cumulative). */
      readonly counts: readonly number[]
      /** The sum of the observed scores. */
      readonly sum: number
      /** The number of observed scores. */
      readonly count: number
    }
  }
}

/** Options accepted by {@link StabilityTracker.fromJSON}: the non-serialisable ones. */
export interface StabilityTrackerRestoreOptions {
  /** {@inheritDoc StabilityTrackerOptions.clock} */
  clock?: Clock
  /** {@inheritDoc StabilityTrackerOptions.strict} */
  strict?: boolean
}

const OWNER = 'StabilityTracker'
/** The `format` field of every {@link StabilityTrackerSnapshot}. */
export const TRACKER_SNAPSHOT_FORMAT = 'auris.stability-tracker'
/** Config keys every snapshot has. */
const REQUIRED_CONFIG_KEYS = ['minStableTicks', 'emaDecay', 'cooldownBase', 'cooldownMaxTicks', 'degradationThreshold'] as const
const CONFIG_KEYS = [...REQUIRED_CONFIG_KEYS, 'scoreBuckets'] as const
/** A config key of earlier versions (the events-per-hour history size), accepted and ignored in snapshots. */
const LEGACY_CONFIG_KEY = 'maxEventHistory'
/** Most `[ageMs, count]` pairs a snapshot may hold: 61 buckets, or an earlier version's history (at most 1e6 instants). */
const MAX_EVENT_PAIRS = 1e6
const OPTION_KEYS = [...CONFIG_KEYS, 'clock', 'strict'] as const

/** The fields {@link StabilityTracker.configure} changes on a live tracker: all of the config. */
export type StabilityTrackerChange = Partial<StabilityTrackerConfig>

/**
 * Validates a run-time change of a tracker config and returns the new config.
 *
 * @throws {RangeError} naming the field, the value and the allowed range.
 * @internal
 */
export function changeTrackerConfig(current: StabilityTrackerConfig, change: unknown, owner = `${OWNER}.configure`): StabilityTrackerConfig {
  const o = checkOptionKeys(owner, change, CONFIG_KEYS)
  if (o.scoreBuckets !== undefined && current.scoreBuckets !== undefined) {
    const wanted = scoreBucketsOption(owner, 'scoreBuckets', o.scoreBuckets)
    if (!sameBuckets(wanted, current.scoreBuckets)) {
      throw rangeError(owner, 'scoreBuckets', o.scoreBuckets, `the bounds in force (${current.scoreBuckets.join(', ')}): counts already made cannot be re-bucketed`)
    }
  }
  return Object.freeze(resolveTrackerConfig({ ...current, ...o }))
}

/** Where a registry-bound tracker reports to. @internal */
export interface TrackerHost {
  readonly windowId: string | null
  readonly parent: Emitter | null
  /** +1 when the tracker gets its first listener, -1 when it loses its last. */
  watch(delta: number): void
}

/** The mode index the EMA calls for (the numeric twin of modeForEma). @internal */
export function emaIndex(ema: number): number {
  return ema >= 0.8 ? 2 : ema >= 0.5 ? 1 : 0
}
const MAX_COUNT = Number.MAX_SAFE_INTEGER

/** Validates tracker options into a config; throws a `RangeError` naming the bad field. */
export function resolveTrackerConfig(options?: StabilityTrackerOptions): StabilityTrackerConfig {
  const o = checkOptionKeys(OWNER, options, OPTION_KEYS)
  const d = TRACKER_DEFAULTS
  const scoreBuckets = scoreBucketsOption(OWNER, 'scoreBuckets', o.scoreBuckets)
  return {
    minStableTicks: numberOption(OWNER, 'minStableTicks', o.minStableTicks, d.minStableTicks, { min: 1, max: 1e9, integer: true }),
    emaDecay: numberOption(OWNER, 'emaDecay', o.emaDecay, d.emaDecay, { min: 0, max: 1, maxExclusive: true }),
    cooldownBase: numberOption(OWNER, 'cooldownBase', o.cooldownBase, d.cooldownBase, { min: 1, max: 1e6 }),
    cooldownMaxTicks: numberOption(OWNER, 'cooldownMaxTicks', o.cooldownMaxTicks, d.cooldownMaxTicks, { min: 0, max: 1e9, integer: true }),
    degradationThreshold: numberOption(OWNER, 'degradationThreshold', o.degradationThreshold, d.degradationThreshold, {
      min: 0,
      max: 1,
      minExclusive: true,
    }),
    // Only when set: a config without a histogram keeps the shape (and JSON) it always had.
    ...(scoreBuckets === undefined ? {} : { scoreBuckets }),
  }
}

/**
 * Validated, shareable construction inputs of a tracker. A registry
 * resolves them once and hands them to every window's tracker.
 *
 * @internal
 */
export interface TrackerSetup {
  readonly config: StabilityTrackerConfig
  readonly params: TrackerParams
  readonly clock: Clock
  readonly strict: boolean
}

/**
 * Storage for a tracker inside a registry block, with the shared setup.
 *
 * @internal
 */
export interface TrackerBinding {
  readonly setup: TrackerSetup
  readonly state: Float64Array
  readonly offset: number
}

/**
 * Validates options into a {@link TrackerSetup}; throws a `RangeError` naming the bad field.
 *
 * @internal
 */
export function trackerSetup(options?: StabilityTrackerOptions): TrackerSetup {
  const config = Object.freeze(resolveTrackerConfig(options))
  return {
    config,
    params: trackerParams(config),
    clock: functionOption<Clock>(OWNER, 'clock', options?.clock, monotonicClock),
    strict: booleanOption(OWNER, 'strict', options?.strict, false),
  }
}

/**
 * Turns a stream of (quality score, degraded) samples into a stability
 * state: stable ticks, an exponential cool-down after each degradation, an
 * instantaneous score, its EMA, degradation events in the last hour and a
 * recommended FAB mode. Tick for tick identical to the reference
 * implementation, without its failure modes: the cool-down saturates instead
 * of overflowing, invalid samples are ignored and counted, and memory stays
 * bounded however long it runs.
 *
 * @example
 * ```ts
 * const tracker = new StabilityTracker({ minStableTicks: 30 })
 * tracker.tick(0.9)
 * tracker.tick(0.4, true) // a degradation: cool-down starts
 * tracker.getMetrics().recommendedMode // 'FAB2' (the EMA moves slowly)
 * ```
 */
export class StabilityTracker {
  static {
    brand(this.prototype, 'tracker')
  }

  /** Brand recognised by {@link isStabilityTracker} across copies of this package. */
  declare readonly [STABILITY_KIND]: 'tracker'
  /** Whether invalid samples throw instead of being counted. */
  readonly strict: boolean

  private cfg: StabilityTrackerConfig
  private p: TrackerParams
  private readonly clock: Clock
  private readonly events: EventWindow
  private s: Float64Array
  private o: number
  private invalid = 0
  private clamped = 0
  private emitter: Emitter | null = null
  /** A listener is subscribed, or a score histogram is kept: tick() takes the observed path. */
  private observed = false
  /** A listener is subscribed. */
  private listening = false
  /** The score histogram, when `scoreBuckets` is set. */
  private hist: ScoreHistogramState | null = null
  private host: TrackerHost | null = null

  /**
   * @param options validated here; see {@link StabilityTrackerOptions}.
   * @throws {RangeError} when an option is outside its allowed range.
   */
  constructor(options?: StabilityTrackerOptions)
  /**
   * Lets a window registry place the state in its own storage.
   *
   * @internal
   */
  constructor(options: StabilityTrackerOptions | undefined, binding: TrackerBinding)
  constructor(options?: StabilityTrackerOptions, binding?: TrackerBinding) {
    const setup = binding?.setup ?? trackerSetup(options)
    this.cfg = setup.config
    this.strict = setup.strict
    this.p = setup.params
    this.clock = setup.clock
    this.events = new EventWindow(HOUR_MS)
    this.s = binding?.state ?? new Float64Array(TRACKER_SLOTS)
    this.o = binding?.offset ?? 0
    initTracker(this.s, this.o)
    if (setup.config.scoreBuckets !== undefined) {
      this.hist = new ScoreHistogramState(setup.config.scoreBuckets)
      this.observed = true
    }
  }

  /**
   * Feeds one sample. `score` is the quality in [0, 1]; `degraded` reports
   * an explicit degradation. A drop of the score by at least
   * `degradationThreshold` from the previous sample counts as a degradation
   * too.
   *
   * A score that is not a finite number, or a `degraded` that is not a
   * boolean, is ignored and counted in `invalidSamples` (or throws a
   * `RangeError` with `strict`); a finite score outside [0, 1] is clamped and
   * counted in `clampedSamples`.
   *
   * @returns whether the sample was used (`false`: it was invalid and ignored).
   */
  tick(score: number, degraded = false): boolean {
    if (typeof score !== 'number' || !(score >= 0 && score <= 1) || typeof degraded !== 'boolean' || this.observed) {
      return this.tickSlow(score, degraded)
    }
    if (stepTracker(this.s, this.o, this.p, score, degraded)) this.recordEvent()
    return true
  }

  /** The rare paths of `tick`: an invalid sample, or a tick that listeners watch. */
  private tickSlow(score: number, degraded: boolean): boolean {
    if (typeof score !== 'number' || !(score >= 0 && score <= 1) || typeof degraded !== 'boolean') {
      score = this.sanitize(score, degraded)
      if (score !== score) return false
    }
    if (!this.listening) {
      // A histogram and no listener: no mode comparison to make.
      if (stepTracker(this.s, this.o, this.p, score, degraded)) this.recordEvent()
      this.observeScore()
      return true
    }
    const before = emaIndex(this.s[this.o + T_EMA] as number)
    const event = stepTracker(this.s, this.o, this.p, score, degraded)
    if (event) this.recordEvent()
    this.observeScore()
    this.observe(before, event)
    return true
  }

  /**
   * Adds the score of the step just taken to the histogram, if there is one.
   *
   * @internal
   */
  observeScore(): void {
    const h = this.hist
    if (h !== null) h.observeAt(this.s, this.o, this.p.minStableTicks)
  }

  /**
   * Announces a change of the recommended mode made by the step just taken;
   * `before` is the mode index before it. Returns the index after it.
   *
   * @internal
   */
  observe(before: number, event: boolean): number {
    const s = this.s
    const o = this.o
    const ema = s[o + T_EMA] as number
    const after = emaIndex(ema)
    if (after === before) return after
    const own = this.emitter
    const parent = this.host?.parent ?? null
    if (own?.active !== true && parent?.active !== true) return after
    const cooling = event || (s[o + T_COOLDOWN] as number) > 0
    const e = transition(
      'recommended',
      this.host?.windowId ?? null,
      modeName(before),
      modeName(after),
      cooling ? 'cooldown' : 'ema-threshold',
      null,
      ema,
      trackerScore(s, o, this.p.minStableTicks),
      s[o + T_TICKS] as number,
      false,
    )
    own?.emit(e)
    parent?.emit(e)
    return after
  }

  /**
   * Subscribes `listener` to changes of the recommended mode (reason
   * `ema-threshold`, or `cooldown` when a degradation's cool-down pulled the
   * EMA across). Returns the function that unsubscribes. A listener that
   * throws is isolated and counted in `listenerErrors`; the tick completes.
   * Without listeners, `tick()` takes the same path as before events existed.
   *
   * @example
   * ```ts
   * const tracker = new StabilityTracker({ emaDecay: 0.5 })
   * const off = tracker.onTransition((e) => console.log(e.tick, e.from, e.to, e.reason))
   * tracker.tick(0.9, true) // 1 FAB2 FAB1 cooldown
   * off()
   * ```
   */
  onTransition(listener: TransitionListener): () => void {
    this.emitter ??= new Emitter(OWNER, (active) => {
      this.listening = active
      this.observed = active || this.hist !== null
      this.host?.watch(active ? 1 : -1)
    })
    return this.emitter.subscribe(listener)
  }

  /** Listener calls that threw, over the tracker's life. */
  get listenerErrors(): number {
    return this.emitter?.errors ?? 0
  }

  /**
   * Places the tracker in a registry window: events carry the window id and
   * reach the registry's listeners too.
   *
   * @internal
   */
  bind(host: TrackerHost | null): void {
    if (this.listening) this.host?.watch(-1)
    this.host = host
    if (this.listening) host?.watch(1)
  }

  /** The validated configuration (replaced by {@link StabilityTracker.configure}). */
  get config(): StabilityTrackerConfig {
    return this.cfg
  }

  /**
   * Changes thresholds, EMA decay, stable ticks or cool-down of the live
   * tracker, keeping its state (EMA, stable ticks, event counts, events of
   * the last hour). A running cool-down longer than the new cap is cut to
   * it. The recommended mode follows at the next tick.
   *
   * @throws {RangeError} naming the field, the value and the allowed range; nothing changes then.
   * @example
   * ```ts
   * const tracker = new StabilityTracker()
   * tracker.configure({ degradationThreshold: 0.2, minStableTicks: 50 })
   * tracker.config.minStableTicks // 50
   * ```
   */
  configure(change: StabilityTrackerChange): void {
    const config = changeTrackerConfig(this.cfg, change)
    if (this.host !== null && this.hist === null && config.scoreBuckets !== undefined) {
      // The registry decides which of its windows take the observed path: a histogram is a registry option.
      throw rangeError(`${OWNER}.configure`, 'scoreBuckets', change.scoreBuckets, 'absent on a registry window: set tracker.scoreBuckets on the registry (StabilityWindows.configure)')
    }
    this.reconfigure(config)
  }

  /** @internal */
  reconfigure(config: StabilityTrackerConfig, params: TrackerParams = trackerParams(config)): void {
    const s = this.s
    const o = this.o
    const count = s[o + T_COUNT] as number
    if (count > 0) s[o + T_COOLDOWN] = Math.min(s[o + T_COOLDOWN] as number, cooldownFor(params, count))
    // A histogram, once kept, stays: a config without buckets does not drop counts already exported.
    if (this.hist !== null && config.scoreBuckets === undefined) config = Object.freeze({ ...config, scoreBuckets: this.hist.bounds })
    else if (this.hist === null && config.scoreBuckets !== undefined) {
      // Enabled on a live tracker: counting starts now.
      this.hist = new ScoreHistogramState(config.scoreBuckets)
      this.observed = true
    }
    this.cfg = config
    this.p = params
  }

  /** Upper bounds of the score histogram, or `null` without one. */
  get scoreBuckets(): readonly number[] | null {
    return this.hist?.bounds ?? null
  }

  /**
   * The score histogram: one observation of the instantaneous score per
   * accepted tick since the histogram was enabled, cumulative counts as
   * Prometheus exposes them. Life-time: `reset()` keeps it. `null` when
   * the tracker has no `scoreBuckets`.
   *
   * @example
   * ```ts
   * const tracker = new StabilityTracker({ minStableTicks: 4, scoreBuckets: [0.25, 0.5, 1] })
   * for (let i = 0; i < 4; i++) tracker.tick(0.9) // scores 0.25, 0.5, 0.75, 1
   * tracker.getScoreHistogram() // { buckets: [0.25, 0.5, 1], counts: [1, 2, 4, 4], sum: 2.5, count: 4 }
   * ```
   */
  getScoreHistogram(): ScoreHistogram | null {
    return this.hist?.read() ?? null
  }

  /**
   * Writes the histogram without allocating, for a collector reading many
   * trackers per scrape: the `buckets.length + 1` cumulative counts (`+Inf`
   * last), then the sum, then the count, from `out[offset]` on. Returns the
   * offset after the last value written, or `-1` (nothing written) when the
   * tracker has no histogram.
   */
  readScoreHistogram(out: Float64Array | number[], offset = 0): number {
    const h = this.hist
    return h === null ? -1 : h.writeTo(out, offset)
  }

  /** The state after the last sample. One allocation: the returned object. */
  getMetrics(now?: number): StabilityMetrics {
    const s = this.s
    const o = this.o
    const cooldown = s[o + T_COOLDOWN] as number
    const stable = s[o + T_STABLE] as number
    const ema = s[o + T_EMA] as number
    return {
      stabilityScore: trackerScore(s, o, this.p.minStableTicks),
      stabilityScoreEma: ema,
      degradationEventsPerHour: this.degradationEventsPerHour(now),
      isInCooldown: cooldown > 0,
      cooldownRemaining: cooldown,
      degradationCount: s[o + T_COUNT] as number,
      totalDegradations: s[o + T_TOTAL] as number,
      stableTicks: stable,
      recommendedMode: modeForEma(ema),
      isStable: cooldown === 0 && stable >= this.p.minStableTicks,
      ticks: s[o + T_TICKS] as number,
      invalidSamples: this.invalid,
      clampedSamples: this.clamped,
    }
  }

  /** `stableTicks >= minStableTicks` and no cool-down running. */
  isStable(): boolean {
    return (this.s[this.o + T_COOLDOWN] as number) === 0 && (this.s[this.o + T_STABLE] as number) >= this.p.minStableTicks
  }

  /** The instantaneous score after the last sample, in [0, 1]. */
  stabilityScore(): number {
    return trackerScore(this.s, this.o, this.p.minStableTicks)
  }

  /** The EMA of the score, in [0, 1]. */
  stabilityScoreEma(): number {
    return this.s[this.o + T_EMA] as number
  }

  /**
   * Degradation events in the last hour of the tracker's clock. Pass `now`
   * (a reading of the same clock) to save a clock read, for instance when
   * reading many trackers at one scrape.
   */
  degradationEventsPerHour(now?: number): number {
    const events = this.events
    if (events.empty) return 0
    return events.count(now ?? this.clock())
  }

  /** The mode the EMA calls for: `FAB2` at >= 0.8, `FAB1` at >= 0.5, else `FAB0`. */
  recommendMode(): FabMode {
    return modeForEma(this.s[this.o + T_EMA] as number)
  }

  /**
   * Whether the system should step down: the EMA is below `threshold`
   * (default 0.5, the `FAB1` boundary) or a cool-down is running.
   */
  shouldDegrade(threshold = 0.5): boolean {
    if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
      throw new RangeError(`${OWNER}.shouldDegrade: threshold must be a number in [0, 1]; got ${describeValue(threshold)}`)
    }
    return (this.s[this.o + T_EMA] as number) < threshold || (this.s[this.o + T_COOLDOWN] as number) > 0
  }

  /** Consecutive stable ticks. */
  get stableTicks(): number {
    return this.s[this.o + T_STABLE] as number
  }

  /** Degradation events since construction or the last `reset()`. */
  get degradationCount(): number {
    return this.s[this.o + T_COUNT] as number
  }

  /** Degradation events over the whole life of the tracker; survives `reset()`. */
  get totalDegradations(): number {
    return this.s[this.o + T_TOTAL] as number
  }

  /** Cool-down ticks left. */
  get cooldownRemaining(): number {
    return this.s[this.o + T_COOLDOWN] as number
  }

  /** Valid samples processed over the tracker's life. */
  get ticks(): number {
    return this.s[this.o + T_TICKS] as number
  }

  /** Samples ignored as invalid over the tracker's life. */
  get invalidSamples(): number {
    return this.invalid
  }

  /** Scores clamped into [0, 1] over the tracker's life. */
  get clampedSamples(): number {
    return this.clamped
  }

  /**
   * Starts a new session: stable ticks, EMA, cool-down, event count and the
   * events-per-hour window go back to their initial values. Life-time
   * counters (`totalDegradations`, `ticks`, `invalidSamples`,
   * `clampedSamples`, the score histogram) are kept, so a Prometheus counter fed from them never
   * goes backwards.
   */
  reset(): void {
    initTracker(this.s, this.o)
    this.events.clear()
  }

  /** A versioned, JSON-safe snapshot; {@link StabilityTracker.fromJSON} restores it. */
  toJSON(): StabilityTrackerSnapshot {
    const s = this.s
    const o = this.o
    const last = s[o + T_LAST] as number
    return {
      format: TRACKER_SNAPSHOT_FORMAT,
      version: 1,
      config: this.cfg.scoreBuckets === undefined ? { ...this.cfg } : { ...this.cfg, scoreBuckets: [...this.cfg.scoreBuckets] },
      state: {
        stableTicks: s[o + T_STABLE] as number,
        degradationCount: s[o + T_COUNT] as number,
        totalDegradations: s[o + T_TOTAL] as number,
        cooldownRemaining: s[o + T_COOLDOWN] as number,
        ema: s[o + T_EMA] as number,
        lastScore: Number.isNaN(last) ? null : last,
        ticks: s[o + T_TICKS] as number,
        invalidSamples: this.invalid,
        clampedSamples: this.clamped,
        events: this.events.toAges(this.clock()),
        ...(this.hist === null ? {} : { scoreHistogram: { counts: Array.from(this.hist.counts), sum: this.hist.sum, count: this.hist.count } }),
      },
    }
  }

  /**
   * Restores a tracker from {@link StabilityTracker.toJSON}'s output (or its
   * `JSON.parse`d text). Its next ticks are identical to the original's.
   * Event ages are re-based on the new clock, so a snapshot moves between
   * processes.
   *
   * @throws {SnapshotError} when the snapshot is malformed, foreign or
   *   inconsistent; nothing is half-restored.
   */
  static fromJSON(snapshot: unknown, options?: StabilityTrackerRestoreOptions): StabilityTracker {
    const state = guardRead(OWNER, () => readTrackerSnapshot(snapshot))
    const tracker = new StabilityTracker({ ...state.config, ...restoreOptions(options) })
    tracker.load(state)
    return tracker
  }

  /**
   * Loads a validated snapshot state into this tracker.
   *
   * @internal
   */
  load(state: ValidatedTrackerState): void {
    const s = this.s
    const o = this.o
    s[o + T_STABLE] = state.stableTicks
    s[o + T_COUNT] = state.degradationCount
    s[o + T_TOTAL] = state.totalDegradations
    s[o + T_COOLDOWN] = state.cooldownRemaining
    s[o + T_EMA] = state.ema
    s[o + T_LAST] = state.lastScore ?? Number.NaN
    s[o + T_TICKS] = state.ticks
    this.invalid = state.invalidSamples
    this.clamped = state.clampedSamples
    this.events.loadAges(state.events, this.clock())
    const h = this.hist
    const saved = state.scoreHistogram
    if (h !== null && saved !== undefined) {
      h.counts.set(saved.counts)
      h.sum = saved.sum
      h.count = saved.count
    }
  }

  /**
   * Records the time of a degradation event; the step function counted it.
   *
   * @internal
   */
  recordEvent(): void {
    this.events.record(this.clock())
  }

  /**
   * The events-per-hour window, for a registry that records events itself
   * (one pointer less to follow on a rare, cache-cold path).
   *
   * @internal
   */
  get eventWindow(): EventWindow {
    return this.events
  }

  /**
   * Moves the state out of shared storage into an array of its own, so the
   * tracker keeps working after its registry slot is reused.
   *
   * @internal
   */
  detach(): void {
    const own = this.s.slice(this.o, this.o + TRACKER_SLOTS)
    this.s = own
    this.o = 0
    this.bind(null)
  }

  /**
   * The slow path of `tick`: returns the score to use, or NaN to drop the sample.
   *
   * @internal
   */
  sanitize(score: unknown, degraded: unknown): number {
    if (typeof degraded !== 'boolean' || typeof score !== 'number' || !Number.isFinite(score)) {
      if (this.strict) {
        const what =
          typeof degraded !== 'boolean'
            ? `degraded must be a boolean; got ${describeValue(degraded)}`
            : `score must be a finite number in [0, 1]; got ${describeValue(score)}`
        throw new RangeError(`${OWNER}.tick: ${what}`)
      }
      this.invalid++
      return Number.NaN
    }
    if (this.strict) throw new RangeError(`${OWNER}.tick: score must be a finite number in [0, 1]; got ${describeValue(score)}`)
    this.clamped++
    return score < 0 ? 0 : 1
  }
}

/** A snapshot's state after validation. @internal */
export type ValidatedTrackerState = StabilityTrackerSnapshot['state'] & { readonly config: StabilityTrackerConfig }

/**
 * Validates a tracker snapshot without building anything.
 *
 * @internal
 */
export function readTrackerSnapshot(snapshot: unknown): ValidatedTrackerState {
  const r = new SnapshotReader(OWNER)
  const root = r.object(snapshot, '')
  if (root.format !== TRACKER_SNAPSHOT_FORMAT) throw r.fail('format', `must be "${TRACKER_SNAPSHOT_FORMAT}"; got ${describeValue(root.format)}`)
  if (root.version !== 1) throw r.fail('version', `${describeValue(root.version)} is not supported (this version reads 1)`)
  const config = readTrackerConfig(r, root.config, 'config')
  const s = r.object(root.state, 'state')
  const ticks = r.number(s, 'ticks', 'state', 0, MAX_COUNT, true)
  // Every event is a valid tick, and every event since the last reset is one of the tracker's life.
  const totalDegradations = r.number(s, 'totalDegradations', 'state', 0, ticks, true)
  const count = r.number(s, 'degradationCount', 'state', 0, totalDegradations, true)
  const stableTicks = r.number(s, 'stableTicks', 'state', 0, ticks, true)
  const state: ValidatedTrackerState = {
    config,
    stableTicks,
    degradationCount: count,
    totalDegradations,
    // A cool-down never outlasts the one the last event started.
    cooldownRemaining: r.number(s, 'cooldownRemaining', 'state', 0, count === 0 ? 0 : cooldownFor(trackerParams(config), count), true),
    ema: r.number(s, 'ema', 'state', 0, 1),
    lastScore: r.nullableNumber(s, 'lastScore', 'state', 0, 1),
    ticks,
    invalidSamples: r.number(s, 'invalidSamples', 'state', 0, MAX_COUNT, true),
    clampedSamples: r.number(s, 'clampedSamples', 'state', 0, MAX_COUNT, true),
    events: r.pairs(s, 'events', 'state', MAX_EVENT_PAIRS),
  }
  if (state.events.some(([age]) => age > HOUR_MS)) throw r.fail('state.events', 'holds an event older than one hour')
  // The window is cleared with the event count on reset, so it never holds more events than that count.
  let inWindow = 0
  for (const [, n] of state.events) inWindow += n
  if (inWindow > count) throw r.fail('state.events', `holds ${String(inWindow)} events, more than degradationCount (${String(count)})`)
  if (state.cooldownRemaining > 0 && stableTicks > 0) throw r.fail('state.stableTicks', 'must be 0 during a cool-down, as every run produces')
  if (state.lastScore !== null && ticks === 0) throw r.fail('state.lastScore', 'must be null before the first tick')
  if (ticks === 0 && state.ema !== 1) throw r.fail('state.ema', 'must be 1 before the first tick')
  const histogram = readScoreHistogram(r, s.scoreHistogram, config.scoreBuckets, ticks)
  return histogram === undefined ? state : { ...state, scoreHistogram: histogram }
}

/** Validates a snapshot's score histogram against the config's bounds. */
function readScoreHistogram(
  r: SnapshotReader,
  value: unknown,
  buckets: readonly number[] | undefined,
  ticks: number,
): { counts: number[]; sum: number; count: number } | undefined {
  const path = 'state.scoreHistogram'
  if (buckets === undefined) {
    if (value !== undefined) throw r.fail(path, 'must be absent: config.scoreBuckets is not set')
    return undefined
  }
  if (value === undefined) throw r.fail(path, 'is missing while config.scoreBuckets is set')
  const h = r.object(value, path)
  const raw = h.counts
  if (!Array.isArray(raw) || raw.length !== buckets.length + 1) {
    throw r.fail(`${path}.counts`, `must be an array of ${String(buckets.length + 1)} per-bucket counts (one per bound, then +Inf)`)
  }
  // Every observation is an accepted tick.
  const count = r.number(h, 'count', path, 0, ticks, true)
  const counts: number[] = []
  let total = 0
  for (let i = 0; i < raw.length; i++) {
    const n: unknown = raw[i]
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw r.fail(`${path}.counts[${String(i)}]`, 'must be an integer >= 0')
    total += n
    counts.push(n)
  }
  if (total !== count) throw r.fail(`${path}.counts`, `add up to ${String(total)}, not count (${String(count)})`)
  // Scores are in [0, 1]: the sum lies in [0, count] (a float sum may round past it by a hair).
  const sum = r.number(h, 'sum', path, 0, count * (1 + 1e-9))
  return { counts, sum, count }
}

/**
 * Validates a snapshot's tracker config (an earlier version's `maxEventHistory` is accepted and ignored).
 *
 * @internal
 */
export function readTrackerConfig(r: SnapshotReader, value: unknown, path: string): StabilityTrackerConfig {
  const raw = r.object(value, path)
  for (const key of REQUIRED_CONFIG_KEYS) {
    if (raw[key] === undefined) throw r.fail(`${path}.${key}`, 'is missing')
  }
  const { [LEGACY_CONFIG_KEY]: _legacy, ...rest } = raw
  try {
    return resolveTrackerConfig(checkOptionKeys(OWNER, rest, CONFIG_KEYS))
  } catch (error) {
    const message = (error as Error).message
    throw r.fail(message.includes('"scoreBuckets') ? `${path}.scoreBuckets` : path, message)
  }
}
