import { monotonicClock, type Clock } from './clock.js'
import type { EventWindow } from './event-window.js'
import {
  Hysteresis,
  changeHysteresisConfig,
  hysteresisParams,
  hysteresisSetup,
  readHysteresisSnapshot,
  type HysteresisChange,
  type HysteresisConfig,
  type HysteresisOptions,
  type HysteresisSetup,
  type HysteresisSnapshot,
  type ValidatedHysteresisState,
} from './hysteresis.js'
import { STABILITY_KIND, brand } from './kind.js'
import type { FabMode } from './modes.js'
import { SnapshotReader, guardRead } from './snapshot-error.js'
import {
  BLOCK_HYSTERESIS,
  BLOCK_STRIDE,
  stepWindow,
  trackerParams,
  trackerScore,
  WINDOW_EVENT,
  WINDOW_SWITCH,
  WINDOW_OSCILLATION,
  WINDOW_FILTER_BEHIND,
  type TrackerParams,
  type HysteresisParams,
} from './state.js'
import {
  StabilityTracker,
  changeTrackerConfig,
  emaIndex,
  readTrackerConfig,
  readTrackerSnapshot,
  trackerSetup,
  type StabilityTrackerChange,
  type StabilityTrackerConfig,
  type StabilityTrackerOptions,
  type StabilityTrackerSnapshot,
  type TrackerSetup,
  type ValidatedTrackerState,
} from './tracker.js'
import { Emitter, type TransitionListener } from './transitions.js'
import { booleanOption, checkOptionKeys, describeValue, functionOption, numberOption, rangeError } from './validate.js'
import { windowIdProblem } from './window-id.js'

/** Options of {@link StabilityWindows}. */
export interface StabilityWindowsOptions {
  /** Options of every window's tracker. Its clock defaults to the registry's. */
  tracker?: Omit<StabilityTrackerOptions, 'clock' | 'strict'>
  /** Options of every window's anti-chatter filter, or `false` for none. Its clock defaults to the registry's. */
  hysteresis?: Omit<HysteresisOptions, 'clock' | 'strict'> | false
  /** Most windows alive at once; a new id past this is rejected and counted. Integer in [1, 1e6]. Default 1000. */
  maxWindows?: number
  /**
   * A window with no sample for this long (ms) is evicted at the next
   * sweep. `Infinity` keeps windows forever. In (0, Infinity]. Default
   * 3600000 (one hour).
   */
  idleTtlMs?: number
  /** Clock in ms for idle eviction, events per hour and switch rates. Default `performance.now()`. */
  clock?: Clock
  /** Throw a `RangeError` on an invalid window id or sample instead of rejecting and counting it. Default false. */
  strict?: boolean
  /**
   * Per-window changes to `tracker` and `hysteresis`, for ids matching a
   * pattern; later entries win. See {@link WindowOverride}. At most 1000.
   */
  overrides?: readonly WindowOverride[]
}

/**
 * A change of config for the windows whose id matches `match`: an exact id,
 * or a pattern where `*` stands for any run of characters (`gpu-*`). Only
 * the fields given change; the rest come from the registry defaults (and
 * earlier overrides). JSON-safe, so snapshots keep it.
 */
export interface WindowOverride {
  /** The window id, or a pattern where `*` stands for any run of characters. */
  readonly match: string
  /** Tracker fields changed for the matching windows. */
  readonly tracker?: StabilityTrackerChange
  /** Filter fields changed for the matching windows. */
  readonly hysteresis?: HysteresisChange
}

/** What {@link StabilityWindows.configure} changes: tracker and filter fields. */
export interface WindowsChange {
  /** Tracker fields to change in every window and in the defaults of windows made later. */
  readonly tracker?: StabilityTrackerChange
  /** Filter fields to change, as `tracker`; ignored when the registry runs without filters. */
  readonly hysteresis?: HysteresisChange
}

/** The config a window runs with. */
export interface WindowConfig {
  /** The window's tracker configuration. */
  readonly tracker: StabilityTrackerConfig
  /** The window's filter configuration; `false` when the registry runs without filters. */
  readonly hysteresis: HysteresisConfig | false
}

/** Options of {@link StabilityWindows.fromJSON}: the config comes from the snapshot, the rest from here. */
export type StabilityWindowsRestoreOptions = Omit<StabilityWindowsOptions, 'tracker' | 'hysteresis' | 'overrides'>

/** One window: its id, tracker and (unless disabled) anti-chatter filter. */
export interface StabilityWindow {
  /** The window's id, a valid label value. */
  readonly id: string
  /** The window's stability tracker. */
  readonly tracker: StabilityTracker
  /** The window's anti-chatter filter; `null` when the registry runs without filters. */
  readonly hysteresis: Hysteresis | null
  /**
   * Feeds one sample, exactly like `StabilityWindows.tick(id, ...)` but
   * without the id lookup: keep the handle for a window you tick often.
   * Returns `false` once the window was removed from its registry.
   */
  tick(score: number, degraded?: boolean): boolean
}

/** Window ids turned away, by reason. */
export interface WindowRejections {
  /** Ids that were not valid label values (empty, too long, control characters, unpaired surrogates, not a string). */
  invalidId: number
  /** Valid new ids refused because `maxWindows` windows were alive. */
  capacity: number
}

/** A versioned, JSON-safe snapshot of a registry. */
export interface StabilityWindowsSnapshot {
  /** Always {@link WINDOWS_SNAPSHOT_FORMAT}: tells a registry snapshot from any other JSON. */
  readonly format: typeof WINDOWS_SNAPSHOT_FORMAT
  /** Layout version of the snapshot; `fromJSON` refuses versions it does not know. */
  readonly version: 1
  /** The default tracker configuration of new windows. */
  readonly tracker: StabilityTrackerConfig
  /** The default filter configuration of new windows; `false`: no filters. */
  readonly hysteresis: HysteresisConfig | false
  /** Every live window, oldest first. */
  readonly windows: readonly {
    /** The window's id. */
    readonly id: string
    /** The window's tracker snapshot. */
    readonly tracker: StabilityTrackerSnapshot
    /** The window's filter snapshot; `null` without filters. */
    readonly hysteresis: HysteresisSnapshot | null
  }[]
  /** Window ids turned away so far, by reason. */
  readonly rejections: WindowRejections
  /** Windows evicted for being idle so far. */
  readonly evicted: number
  /** Absent in snapshots of earlier versions (read as none). */
  readonly overrides?: readonly WindowOverride[]
}


class Slot implements StabilityWindow {
  /** Samples seen (valid + invalid) at the last sweep: activity is read off the counters, not written per tick. */
  seen = 0
  /** Cleared when the window leaves its registry: its block may then belong to another window. */
  alive = true
  /** The registry has listeners, pins, overrides or a score histogram: take the observed path. A field of its own, so the fast path loads nothing more. */
  slow = false
  /** The registry has listeners, pins or overrides (not only a histogram): the observed path compares modes. */
  watching = false

  constructor(
    readonly id: string,
    readonly tracker: StabilityTracker,
    readonly hysteresis: Hysteresis | null,
    /** Block index in the chunked storage. */
    readonly index: number,
    /** Position in the dense iteration array. */
    public position: number,
    public lastSeen: number,
    private readonly state: Float64Array,
    private readonly offset: number,
    /** The window's step constants (the registry's, unless an override applies). */
    public tp: TrackerParams,
    public hp: HysteresisParams | null,
    /** The tracker's event window and clock: `tracker.recordEvent()` without going through the tracker. */
    private readonly events: EventWindow,
    private readonly clock: Clock,
  ) {}

  tick(score: number, degraded = false): boolean {
    if (!this.alive) return false
    if (typeof score !== 'number' || !(score >= 0 && score <= 1) || typeof degraded !== 'boolean' || this.slow) {
      return this.tickSlow(score, degraded)
    }
    const result = stepWindow(this.state, this.offset, this.tp, this.hp, score, degraded)
    if (result !== 0) this.afterStep(result)
    return true
  }

  /** The rare paths of `tick`: an invalid sample, or a registry with listeners, pins or overrides. */
  tickSlow(score: number, degraded: boolean): boolean {
    if (typeof score !== 'number' || !(score >= 0 && score <= 1) || typeof degraded !== 'boolean') {
      score = this.tracker.sanitize(score, degraded)
      if (score !== score) return true
    }
    if (!this.watching) {
      // Only a histogram to feed: no modes to compare.
      const result = stepWindow(this.state, this.offset, this.tp, this.hp, score, degraded)
      if (result !== 0) this.afterStep(result)
      this.tracker.observeScore()
      return true
    }
    const s = this.state
    const o = this.offset
    const before = emaIndex(s[o + 3] as number)
    const own = s[o + BLOCK_HYSTERESIS] as number
    const result = stepWindow(s, o, this.tp, this.hp, score, degraded)
    if (result !== 0) this.afterStep(result)
    this.tracker.observeScore()
    const event = (result & WINDOW_EVENT) !== 0
    this.tracker.observe(before, event)
    const filter = this.hysteresis
    if (filter !== null && (result & WINDOW_FILTER_BEHIND) === 0) {
      const reason = event || (s[o + 2] as number) > 0 ? 'cooldown' : 'ema-threshold'
      filter.observe(own, result & (WINDOW_SWITCH | WINDOW_OSCILLATION), s[o + 3] as number, trackerScore(s, o, this.tp.minStableTicks), reason)
    }
    return true
  }

  /** The rare outcomes of a step: time an event or a switch, count a refused filter update. */
  afterStep(result: number): void {
    if ((result & WINDOW_EVENT) !== 0) this.events.record(this.clock())
    const filter = this.hysteresis
    if (filter === null) return
    if ((result & WINDOW_SWITCH) !== 0) filter.recordSwitch((result & WINDOW_OSCILLATION) !== 0)
    // The filter was driven by hand past the tracker's tick: let it count the refusal.
    if ((result & WINDOW_FILTER_BEHIND) !== 0) filter.update(filter.effectiveMode, this.tracker.ticks)
  }
}

const OWNER = 'StabilityWindows'
/** The `format` field of every {@link StabilityWindowsSnapshot}. */
export const WINDOWS_SNAPSHOT_FORMAT = 'auris.stability-windows'
const OPTION_KEYS = ['tracker', 'hysteresis', 'maxWindows', 'idleTtlMs', 'clock', 'strict', 'overrides'] as const
const RESTORE_OPTION_KEYS = ['maxWindows', 'idleTtlMs', 'clock', 'strict'] as const
const MAX_OVERRIDES = 1000

/** An override with its pattern compiled. */
interface Rule {
  readonly override: WindowOverride
  readonly test: RegExp
}

/** Validates an override and compiles its pattern; `tracker` and `hysteresis` are checked against `base`. */
function compileOverride(owner: string, value: unknown, base: WindowConfig): Rule {
  const o = checkOptionKeys(owner, value, ['match', 'tracker', 'hysteresis'])
  const problem = windowIdProblem(o.match)
  if (problem !== null) throw rangeError(owner, 'match', o.match, `a window id or a pattern with "*" (this one ${problem})`)
  const match = o.match as string
  const override: { match: string; tracker?: StabilityTrackerChange; hysteresis?: HysteresisChange } = { match }
  if (o.tracker !== undefined) {
    const buckets: unknown = typeof o.tracker === 'object' && o.tracker !== null ? (o.tracker as Record<string, unknown>).scoreBuckets : undefined
    if (buckets !== undefined) {
      // Quantiles and sums across windows (and workers) need one set of buckets: they are a registry-wide setting.
      throw rangeError(owner, 'tracker.scoreBuckets', buckets, 'absent: every window shares the registry\'s buckets, so set tracker.scoreBuckets on the registry (or configure() without a pattern)')
    }
    changeTrackerConfig(base.tracker, o.tracker, owner)
    override.tracker = { ...(o.tracker as StabilityTrackerChange) }
  }
  if (o.hysteresis !== undefined) {
    if (base.hysteresis === false) throw rangeError(owner, 'hysteresis', o.hysteresis, 'absent: the registry has no filters')
    changeHysteresisConfig(base.hysteresis, o.hysteresis, owner)
    override.hysteresis = { ...(o.hysteresis as HysteresisChange) }
  }
  const source = match.split('*').map((part) => part.replace(/[\\^$.+?()[\]{}|]/g, '\\$&')).join('.*')
  return { override: Object.freeze(override), test: new RegExp(`^${source}$`, 's') }
}
const MAX_WINDOWS = 1e6
/** 64 blocks of 16 doubles: 8 KiB chunks that never move, so trackers can point into them. */
const CHUNK_SHIFT = 6
const CHUNK_MASK = (1 << CHUNK_SHIFT) - 1

function samplesSeen(slot: Slot): number {
  return slot.tracker.ticks + slot.tracker.invalidSamples
}

/**
 * A registry of stability windows keyed by `window_id`: one tracker and one
 * anti-chatter filter per window, created on first use. Ids are validated,
 * live windows are capped at `maxWindows`, idle windows are evicted after
 * `idleTtlMs`, and every refusal is counted, so a stream of hostile ids can
 * never grow the label set (or memory) without bound.
 *
 * Every window's hot state lives in one 128-byte block of shared storage,
 * so a tick on any window costs a map lookup and two cache lines, and
 * iterating at scrape time walks a dense array.
 *
 * @example
 * ```ts
 * const windows = new StabilityWindows({ tracker: { minStableTicks: 30 } })
 * windows.tick('global', 0.9)
 * windows.tick('stream', 0.4, true)
 * for (const w of windows) console.log(w.id, w.tracker.recommendMode(), w.hysteresis?.effectiveMode)
 * ```
 */
export class StabilityWindows implements Iterable<StabilityWindow> {
  static {
    brand(this.prototype, 'windows')
  }

  /** Brand recognised by {@link isStabilityWindows} across copies of this package. */
  declare readonly [STABILITY_KIND]: 'windows'
  /** Most windows alive at once. */
  readonly maxWindows: number
  /** Idle time (ms) after which a window is evicted. */
  readonly idleTtlMs: number
  /** Whether invalid ids and samples throw instead of being counted. */
  readonly strict: boolean

  private readonly clock: Clock
  private trackers: TrackerSetup
  private filters: HysteresisSetup | null
  /** @internal */
  private tp: TrackerParams
  /** @internal */
  private hp: HysteresisParams | null
  private rules: readonly Rule[] = []
  /** Listeners, pins, overrides or a histogram: ticks take the observed path. */
  private slow = false
  /** Listeners, pins or overrides: the observed path compares modes. */
  private watching = false
  /** Trackers and filters of live windows with a listener or a pin. */
  private watched = 0
  private readonly emitter: Emitter
  private readonly sweepIntervalMs: number
  private readonly chunks: Float64Array[] = []
  private readonly free: number[] = []
  private nextIndex = 0
  private readonly byIndex: (Slot | undefined)[] = []
  private readonly live: Slot[] = []
  private readonly byId = new Map<string, number>()
  private readonly rejected: WindowRejections = { invalidId: 0, capacity: 0 }
  private evictedCount = 0
  private lastSweep = -Infinity

  /** @throws {RangeError} when an option (or a nested tracker or filter option) is invalid. */
  constructor(options?: StabilityWindowsOptions) {
    const o = checkOptionKeys(OWNER, options, OPTION_KEYS)
    this.maxWindows = numberOption(OWNER, 'maxWindows', o.maxWindows, 1000, { min: 1, max: MAX_WINDOWS, integer: true })
    this.idleTtlMs = numberOption(OWNER, 'idleTtlMs', o.idleTtlMs, 3_600_000, { min: 0, max: Infinity, minExclusive: true })
    this.clock = functionOption<Clock>(OWNER, 'clock', o.clock, monotonicClock)
    this.strict = booleanOption(OWNER, 'strict', o.strict, false)
    const tracker: unknown = o.tracker ?? {}
    if (typeof tracker !== 'object' || tracker === null) throw rangeError(OWNER, 'tracker', tracker, 'an object of tracker options')
    const hysteresis: unknown = o.hysteresis ?? {}
    if (hysteresis !== false && (typeof hysteresis !== 'object' || hysteresis === null)) {
      throw rangeError(OWNER, 'hysteresis', hysteresis, 'an object of filter options, or false')
    }
    // The registry's clock and strictness apply to every window; a nested one would be silently overridden.
    for (const [field, nested] of [['tracker', tracker], ['hysteresis', hysteresis]] as const) {
      if (nested === false) continue
      for (const key of ['clock', 'strict'] as const) {
        const value = (nested as Record<string, unknown>)[key]
        if (value !== undefined) throw rangeError(OWNER, `${field}.${key}`, value, `absent: set "${key}" on the registry, which applies it to every window`)
      }
    }
    const runtime = { clock: this.clock, strict: this.strict }
    this.trackers = trackerSetup({ ...(tracker as StabilityTrackerOptions), ...runtime })
    this.filters = hysteresis === false ? null : hysteresisSetup({ ...(hysteresis as HysteresisOptions), ...runtime })
    this.tp = this.trackers.params
    this.hp = this.filters?.params ?? null
    this.sweepIntervalMs = Math.min(1000, this.idleTtlMs / 2)
    this.emitter = new Emitter(OWNER, () => {
      this.refresh()
    })
    const overrides: unknown = o.overrides ?? []
    if (!Array.isArray(overrides) || overrides.length > MAX_OVERRIDES) {
      throw rangeError(OWNER, 'overrides', overrides, `an array of at most ${String(MAX_OVERRIDES)} overrides`)
    }
    const base = this.defaults()
    this.rules = overrides.map((entry, i) => compileOverride(`${OWNER}: overrides[${String(i)}]`, entry, base))
    this.refresh()
  }

  private defaults(): WindowConfig {
    return { tracker: this.trackers.config, hysteresis: this.filters?.config ?? false }
  }

  private refresh(): void {
    const watching = this.emitter.active || this.watched > 0 || this.rules.length > 0
    // A score histogram is observed on the observed path too, so without one the fast path stays as it was.
    const slow = watching || this.trackers.config.scoreBuckets !== undefined
    if (slow === this.slow && watching === this.watching) return
    this.slow = slow
    this.watching = watching
    for (const slot of this.live) {
      slot.slow = slow
      slot.watching = watching
    }
  }

  private watch(delta: number): void {
    this.watched += delta
    this.refresh()
  }

  /**
   * Subscribes `listener` to the transitions of every window: recommended
   * mode changes, effective mode changes (filter switches, pins starting
   * and ending) and changes the filters held back, each with its window id.
   * Returns the function that unsubscribes. A listener that throws is
   * isolated and counted in `listenerErrors`; ticking goes on.
   *
   * Without any listener, pin or override, a tick takes the same path as
   * before events existed; with one, every tick of the registry takes the
   * observed path (see BENCHMARKS.md for its cost).
   *
   * @example
   * ```ts
   * const windows = new StabilityWindows({ tracker: { emaDecay: 0.5 }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 } })
   * const seen: string[] = []
   * const off = windows.onTransition((e) => seen.push(`${e.windowId ?? ''} ${e.kind} ${e.from}->${e.to} ${e.reason}`))
   * windows.tick('stream', 0.9, true)
   * seen // ['stream recommended FAB2->FAB1 cooldown', 'stream effective FAB2->FAB1 cooldown']
   * off()
   * ```
   */
  onTransition(listener: TransitionListener): () => void {
    return this.emitter.subscribe(listener)
  }

  /** Calls of registry listeners that threw, over the registry's life. */
  get listenerErrors(): number {
    return this.emitter.errors
  }

  /**
   * Pins window `id`'s effective mode (see `Hysteresis.pin`); returns
   * `false` when the window does not exist.
   *
   * @throws {RangeError} when the registry has no filters, or `mode` / `options` are invalid.
   * @example
   * ```ts
   * let now = 0
   * const windows = new StabilityWindows({ clock: () => now })
   * windows.tick('stream', 0.9)
   * windows.pin('stream', 'FAB0', { forMs: 60_000 })
   * windows.get('stream')?.hysteresis?.getMetrics().pinned // { mode: 'FAB0', untilMs: 60000, remainingMs: 60000 }
   * ```
   */
  pin(id: string, mode: FabMode, options?: { forMs?: number }): boolean {
    if (this.filters === null) throw rangeError(`${OWNER}.pin`, 'hysteresis', false, 'filters: the registry was built with hysteresis: false')
    const window = this.get(id)
    if (window === undefined) return false
    window.hysteresis?.pin(mode, options)
    return true
  }

  /** Lifts the pin of window `id`; returns whether one was in force. */
  unpin(id: string): boolean {
    return this.get(id)?.hysteresis?.unpin() ?? false
  }

  /** The overrides in force, in the order they apply (copies). */
  get overrides(): WindowOverride[] {
    return this.rules.map((rule) => copyOverride(rule.override))
  }

  /** The config window `id` runs with (or would, once created): the defaults with every matching override applied. */
  configOf(id: string): WindowConfig {
    return this.resolve(id, this.defaults(), this.rules)
  }

  /**
   * Changes config at run time, keeping every window's state. Without
   * `match`, changes the registry defaults; with `match` (an id or a
   * pattern with `*`), adds or extends the override for it (an existing
   * override for the same pattern is merged, keeping its place). Every live
   * window gets its new config at once; windows created later get it too.
   * Validated first: on a `RangeError` nothing changes.
   *
   * @throws {RangeError} naming the field, the value and the allowed range.
   * @example
   * ```ts
   * const windows = new StabilityWindows()
   * windows.tick('gpu-0', 0.9)
   * windows.configure({ hysteresis: { downgradeDwellTicks: 5, upgradeDwellTicks: 500 } }, 'gpu-*')
   * windows.get('gpu-0')?.hysteresis?.config.upgradeDwellTicks // 500
   * windows.configure({ tracker: { degradationThreshold: 0.2 } }) // every window
   * ```
   */
  configure(change: WindowsChange, match?: string): void {
    const owner = `${OWNER}.configure`
    const c = checkOptionKeys(owner, change, ['tracker', 'hysteresis'])
    if (c.hysteresis !== undefined && this.filters === null) throw rangeError(owner, 'hysteresis', c.hysteresis, 'absent: the registry has no filters')
    let base = this.defaults()
    let rules = this.rules
    if (match === undefined) {
      base = {
        tracker: c.tracker === undefined ? base.tracker : changeTrackerConfig(base.tracker, c.tracker, owner),
        hysteresis: base.hysteresis === false || c.hysteresis === undefined ? base.hysteresis : changeHysteresisConfig(base.hysteresis, c.hysteresis, owner),
      }
    } else {
      const i = this.rules.findIndex((rule) => rule.override.match === match)
      const old = i < 0 ? undefined : this.rules[i]?.override
      const merged = {
        match,
        ...(old?.tracker !== undefined || c.tracker !== undefined ? { tracker: { ...old?.tracker, ...(c.tracker as object | undefined) } } : {}),
        ...(old?.hysteresis !== undefined || c.hysteresis !== undefined ? { hysteresis: { ...old?.hysteresis, ...(c.hysteresis as object | undefined) } } : {}),
      }
      const rule = compileOverride(owner, merged, base)
      if (i < 0 && this.rules.length >= MAX_OVERRIDES) throw rangeError(owner, 'match', match, `one of the ${String(MAX_OVERRIDES)} existing patterns (the list is full)`)
      rules = i < 0 ? [...this.rules, rule] : this.rules.map((r, j) => (j === i ? rule : r))
    }
    this.apply(base, rules)
  }

  /** Removes the override for `match`; its windows go back to the defaults (and remaining overrides). Returns whether it existed. */
  removeOverride(match: string): boolean {
    const rules = this.rules.filter((rule) => rule.override.match !== match)
    if (rules.length === this.rules.length) return false
    this.apply(this.defaults(), rules)
    return true
  }

  /** Resolves every live window under `base` and `rules`, then switches them all. */
  private apply(base: WindowConfig, rules: readonly Rule[]): void {
    // Every change was validated on its own and no constraint spans fields, so this cannot throw half-way.
    const plans = this.live.map((slot) => ({ slot, config: this.resolve(slot.id, base, rules) }))
    const params = new ParamsCache()
    this.trackers = { ...this.trackers, config: base.tracker, params: params.tracker(base.tracker) }
    if (this.filters !== null && base.hysteresis !== false) this.filters = { ...this.filters, config: base.hysteresis, params: params.filter(base.hysteresis) }
    this.tp = this.trackers.params
    this.hp = this.filters?.params ?? null
    this.rules = rules
    for (const { slot, config } of plans) {
      slot.tp = params.tracker(config.tracker)
      slot.tracker.reconfigure(config.tracker, slot.tp)
      if (slot.hysteresis !== null && config.hysteresis !== false) {
        slot.hp = params.filter(config.hysteresis)
        slot.hysteresis.reconfigure(config.hysteresis, slot.hp)
      }
    }
    this.refresh()
  }

  private resolve(id: string, base: WindowConfig, rules: readonly Rule[]): WindowConfig {
    let tracker = base.tracker
    let hysteresis = base.hysteresis
    for (const rule of rules) {
      if (!rule.test.test(id)) continue
      const { tracker: t, hysteresis: h } = rule.override
      if (t !== undefined) tracker = changeTrackerConfig(tracker, t, OWNER)
      if (h !== undefined && hysteresis !== false) hysteresis = changeHysteresisConfig(hysteresis, h, OWNER)
    }
    return { tracker, hysteresis }
  }

  /** The configuration of every window's tracker. */
  get trackerConfig(): StabilityTrackerConfig {
    return this.trackers.config
  }

  /** The configuration of every window's filter, or `false` when windows have none. */
  get hysteresisConfig(): HysteresisConfig | false {
    return this.filters?.config ?? false
  }

  /** Windows alive. */
  get size(): number {
    return this.live.length
  }

  /** Ids turned away so far, by reason (a copy). */
  get rejections(): WindowRejections {
    return { ...this.rejected }
  }

  /** Windows evicted for being idle so far. */
  get evicted(): number {
    return this.evictedCount
  }

  /** The window `id`, or `undefined` when it does not exist. Never creates one. */
  get(id: string): StabilityWindow | undefined {
    const k = this.byId.get(id)
    return k === undefined ? undefined : this.byIndex[k]
  }

  /** Whether window `id` exists. */
  has(id: string): boolean {
    return this.byId.has(id)
  }

  /**
   * The window `id`, created when new. Returns `undefined`, and counts the
   * refusal, when the id is invalid or `maxWindows` windows are alive (after
   * evicting idle ones). With `strict`, an invalid id throws a `RangeError`.
   */
  acquire(id: string): StabilityWindow | undefined {
    const k = this.byId.get(id) ?? this.create(id)
    return k < 0 ? undefined : this.byIndex[k]
  }

  /**
   * Feeds one sample to window `id` (created when new) and, when the window
   * has a filter and the sample was valid, the tracker's recommended mode
   * to the filter at the tracker's tick count. Returns `false` when the
   * window was refused (an invalid sample to an accepted window returns
   * `true`: the window exists; the tracker counted the sample).
   */
  tick(id: string, score: number, degraded = false): boolean {
    const k = this.byId.get(id) ?? this.create(id)
    if (k < 0) return false
    if (typeof score !== 'number' || !(score >= 0 && score <= 1) || typeof degraded !== 'boolean' || this.slow) {
      return (this.byIndex[k] as Slot).tickSlow(score, degraded)
    }
    // The same step as Slot.tick, written out so the id path skips the slot; 64 blocks of 16 doubles per chunk.
    const result = stepWindow(this.chunks[k >> 6] as Float64Array, (k & 63) << 4, this.tp, this.hp, score, degraded)
    if (result !== 0) (this.byIndex[k] as Slot).afterStep(result)
    return true
  }

  /** Removes window `id`; returns whether it existed. Its tracker and filter keep working on their own. */
  delete(id: string): boolean {
    const k = this.byId.get(id)
    if (k === undefined) return false
    this.remove(this.byIndex[k] as Slot)
    return true
  }

  /** Removes every window (counters of rejections and evictions are kept). */
  clear(): void {
    for (let i = this.live.length - 1; i >= 0; i--) this.remove(this.live[i] as Slot)
  }

  /**
   * Evicts windows that had no sample for at least `idleTtlMs`. A sweep
   * notices activity from the windows' sample counters, so the tick path
   * never reads the clock: a window is evicted between `idleTtlMs` and
   * `idleTtlMs` plus the gap between two sweeps after its last sample,
   * never earlier. Sweeps run when the caller asks (an exporter at scrape
   * time) and when a new id meets a full registry. Pins past their time
   * end at a sweep too. Returns the number of windows evicted.
   */
  sweep(now: number = this.clock()): number {
    this.lastSweep = now
    // Pins past their time end here too, so an idle window's pin ends at the next scrape.
    if (this.watched > 0) for (const slot of this.live) slot.hysteresis?.expirePin(now)
    if (this.idleTtlMs === Infinity) return 0
    let evicted = 0
    for (let i = this.live.length - 1; i >= 0; i--) {
      const slot = this.live[i] as Slot
      const seen = samplesSeen(slot)
      if (seen !== slot.seen) {
        slot.seen = seen
        slot.lastSeen = now
      } else if (now - slot.lastSeen >= this.idleTtlMs) {
        this.remove(slot)
        evicted++
      }
    }
    this.evictedCount += evicted
    return evicted
  }

  /** Calls `fn` for each window. Removing windows from `fn` is not supported. */
  forEach(fn: (window: StabilityWindow) => void): void {
    for (const slot of this.live) fn(slot)
  }

  /** Iterates the windows in creation order, except that removals move the last window into the gap. */
  [Symbol.iterator](): Iterator<StabilityWindow> {
    return this.live[Symbol.iterator]()
  }

  /** Window ids, in iteration order. */
  ids(): string[] {
    return this.live.map((slot) => slot.id)
  }

  /** A versioned, JSON-safe snapshot of every window; {@link StabilityWindows.fromJSON} restores it. */
  toJSON(): StabilityWindowsSnapshot {
    return {
      format: WINDOWS_SNAPSHOT_FORMAT,
      version: 1,
      tracker: { ...this.trackers.config },
      hysteresis: this.filters === null ? false : { ...this.filters.config },
      windows: this.live.map((slot) => ({
        id: slot.id,
        tracker: slot.tracker.toJSON(),
        hysteresis: slot.hysteresis?.toJSON() ?? null,
      })),
      rejections: { ...this.rejected },
      evicted: this.evictedCount,
      overrides: this.overrides,
    }
  }

  /**
   * Restores a registry from {@link StabilityWindows.toJSON}'s output. The
   * tracker and filter configuration come from the snapshot; `options`
   * sets the clock, strictness and limits.
   *
   * @throws {SnapshotError} when the snapshot, or any window in it, is
   *   malformed or does not fit `options`; nothing is half-restored.
   * @throws {RangeError} when `options` is invalid.
   */
  static fromJSON(snapshot: unknown, options?: StabilityWindowsRestoreOptions): StabilityWindows {
    // Bad options are the caller's mistake, not the snapshot's: a RangeError, as from the constructor.
    new StabilityWindows({ ...checkOptionKeys(OWNER, options, RESTORE_OPTION_KEYS), hysteresis: false })
    return guardRead(OWNER, () => StabilityWindows.restore(snapshot, options))
  }

  private static restore(snapshot: unknown, options: StabilityWindowsRestoreOptions | undefined): StabilityWindows {
    const r = new SnapshotReader(OWNER)
    const root = r.object(snapshot, '')
    if (root.format !== WINDOWS_SNAPSHOT_FORMAT) throw r.fail('format', `must be "${WINDOWS_SNAPSHOT_FORMAT}"; got ${describeValue(root.format)}`)
    if (root.version !== 1) throw r.fail('version', `${describeValue(root.version)} is not supported (this version reads 1)`)
    const trackerConfig = readTrackerConfig(r, root.tracker, 'tracker')
    const hysteresisConfig = root.hysteresis === false ? false : r.object(root.hysteresis, 'hysteresis')
    const overrides = root.overrides ?? []
    if (!Array.isArray(overrides)) throw r.fail('overrides', 'must be an array')
    let registry: StabilityWindows
    try {
      registry = new StabilityWindows({
        ...checkOptionKeys(OWNER, options, RESTORE_OPTION_KEYS),
        tracker: trackerConfig,
        hysteresis: hysteresisConfig as HysteresisOptions | false,
        overrides: overrides as WindowOverride[],
      })
    } catch (error) {
      throw r.fail('', `does not make a registry: ${(error as Error).message}`)
    }
    if (!Array.isArray(root.windows)) throw r.fail('windows', 'must be an array')
    const windows = root.windows as unknown[]
    if (windows.length > registry.maxWindows) {
      throw r.fail('windows', `holds ${String(windows.length)} windows, more than maxWindows (${String(registry.maxWindows)})`)
    }
    const rejections = r.object(root.rejections, 'rejections')
    const invalidId = r.number(rejections, 'invalidId', 'rejections', 0, Number.MAX_SAFE_INTEGER, true)
    const capacity = r.number(rejections, 'capacity', 'rejections', 0, Number.MAX_SAFE_INTEGER, true)
    const evicted = r.number(root, 'evicted', '', 0, Number.MAX_SAFE_INTEGER, true)
    // Validate every window before creating any, so a bad one leaves nothing behind.
    const states: { id: string; tracker: ValidatedTrackerState; hysteresis: ValidatedHysteresisState | null }[] = []
    const seen = new Set<string>()
    for (const [i, entry] of windows.entries()) {
      const path = `windows[${String(i)}]`
      const w = r.object(entry, path)
      // Each field is read once: a getter could answer differently the second time.
      const id = w.id
      const problem = windowIdProblem(id)
      if (problem !== null || typeof id !== 'string') throw r.fail(`${path}.id`, problem ?? 'is not a string')
      if (seen.has(id)) throw r.fail(`${path}.id`, `repeats window "${id}"`)
      seen.add(id)
      const tracker = readTrackerSnapshot(w.tracker)
      const config = registry.configOf(id)
      if (!sameConfig(tracker.config, config.tracker)) throw r.fail(`${path}.tracker.config`, 'differs from the registry tracker config and its overrides')
      let hysteresis: ValidatedHysteresisState | null = null
      const rawHysteresis = w.hysteresis
      if (config.hysteresis !== false) {
        if (rawHysteresis === null) throw r.fail(`${path}.hysteresis`, 'is missing while the registry has filters')
        hysteresis = readHysteresisSnapshot(rawHysteresis)
        if (!sameConfig(hysteresis.config, config.hysteresis)) throw r.fail(`${path}.hysteresis.config`, 'differs from the registry filter config and its overrides')
      } else if (rawHysteresis !== null) {
        throw r.fail(`${path}.hysteresis`, 'must be null: the registry has no filters')
      }
      states.push({ id, tracker, hysteresis })
    }
    for (const state of states) {
      const k = registry.create(state.id)
      const slot = registry.byIndex[k] as Slot
      slot.tracker.load(state.tracker)
      if (state.hysteresis !== null) slot.hysteresis?.load(state.hysteresis)
      slot.seen = samplesSeen(slot)
    }
    registry.rejected.invalidId = invalidId
    registry.rejected.capacity = capacity
    registry.evictedCount = evicted
    return registry
  }

  /** Creates window `id`; returns its block index, or -1 when refused. */
  private create(id: string): number {
    const problem = windowIdProblem(id)
    if (problem !== null) {
      if (this.strict) throw new RangeError(`${OWNER}: window id ${describeValue(id)} ${problem}`)
      this.rejected.invalidId++
      return -1
    }
    const now = this.clock()
    if (this.live.length >= this.maxWindows) {
      // At most one sweep per interval, so a flood of new ids cannot turn every refusal into a full scan.
      if (now - this.lastSweep >= this.sweepIntervalMs) this.sweep(now)
      if (this.live.length >= this.maxWindows) {
        this.rejected.capacity++
        return -1
      }
    }
    const k = this.free.pop() ?? this.nextIndex++
    const chunk = k >> CHUNK_SHIFT
    if (chunk === this.chunks.length) this.chunks.push(new Float64Array(BLOCK_STRIDE << CHUNK_SHIFT))
    const state = this.chunks[chunk] as Float64Array
    const offset = (k & CHUNK_MASK) * BLOCK_STRIDE
    state.fill(0, offset, offset + BLOCK_STRIDE)
    let trackers = this.trackers
    let filters = this.filters
    if (this.rules.length > 0) {
      const config = this.configOf(id)
      if (config.tracker !== trackers.config) trackers = { ...trackers, config: config.tracker, params: trackerParams(config.tracker) }
      if (filters !== null && config.hysteresis !== false && config.hysteresis !== filters.config) {
        filters = { ...filters, config: config.hysteresis, params: hysteresisParams(config.hysteresis) }
      }
    }
    const tracker = new StabilityTracker(undefined, { setup: trackers, state, offset })
    const filter = filters === null ? null : new Hysteresis(undefined, { setup: filters, state, offset: offset + BLOCK_HYSTERESIS })
    const host = { windowId: id, parent: this.emitter, watch: (delta: number): void => {
        this.watch(delta)
      },
    }
    tracker.bind(host)
    filter?.bind(host)
    const slot = new Slot(
      id,
      tracker,
      filter,
      k,
      this.live.length,
      now,
      state,
      offset,
      trackers.params,
      filters?.params ?? null,
      tracker.eventWindow,
      this.trackers.clock,
    )
    slot.slow = this.slow
    slot.watching = this.watching
    this.live.push(slot)
    this.byIndex[k] = slot
    this.byId.set(id, k)
    return k
  }

  private remove(slot: Slot): void {
    // Users may still hold the handle, tracker and filter: give the last two
    // their own state before the block is reused, and retire the handle.
    slot.alive = false
    slot.tracker.detach()
    slot.hysteresis?.detach()
    const last = this.live.pop() as Slot
    if (last !== slot) {
      this.live[slot.position] = last
      last.position = slot.position
    }
    this.byIndex[slot.index] = undefined
    this.byId.delete(slot.id)
    this.free.push(slot.index)
  }
}

/** Step constants shared by windows with equal configs, so the hot path sees few distinct objects. */
class ParamsCache {
  private readonly trackers = new Map<string, TrackerParams>()
  private readonly filters = new Map<string, HysteresisParams>()

  tracker(config: StabilityTrackerConfig): TrackerParams {
    const key = JSON.stringify(config)
    let params = this.trackers.get(key)
    if (params === undefined) this.trackers.set(key, (params = trackerParams(config)))
    return params
  }

  filter(config: HysteresisConfig): HysteresisParams {
    const key = JSON.stringify(config)
    let params = this.filters.get(key)
    if (params === undefined) this.filters.set(key, (params = hysteresisParams(config)))
    return params
  }
}

function copyOverride(override: WindowOverride): WindowOverride {
  return {
    match: override.match,
    ...(override.tracker === undefined ? {} : { tracker: { ...override.tracker } }),
    ...(override.hysteresis === undefined ? {} : { hysteresis: { ...override.hysteresis } }),
  }
}

function sameConfig(a: object, b: object): boolean {
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  const keys = Object.keys(x)
  const same = (p: unknown, q: unknown): boolean =>
    Object.is(p, q) || (Array.isArray(p) && Array.isArray(q) && p.length === q.length && p.every((v, i) => Object.is(v, q[i])))
  return keys.length === Object.keys(y).length && keys.every((key) => same(x[key], y[key]))
}
