import { monotonicClock, type Clock } from './clock.js'
import { EventWindow } from './event-window.js'
import { STABILITY_KIND, brand } from './kind.js'
import { MODE_TO_NUMERIC, isFabMode, type FabMode } from './modes.js'
import { SnapshotReader, guardRead } from './snapshot-error.js'
import {
  H_EFFECTIVE,
  H_DESIRED,
  H_DWELL,
  H_LAST_SWITCH,
  H_LAST_TICK,
  H_SWITCHES,
  H_OSC,
  HYSTERESIS_SLOTS,
  stepHysteresis,
  OSCILLATED,
  initHysteresis,
  modeName,
  modeIndex,
  effectiveIndex,
  lastTickOf,
  type HysteresisParams,
} from './state.js'
import { Emitter, transition, type HoldReason, type TransitionListener, type TransitionReason } from './transitions.js'
import { booleanOption, checkOptionKeys, describeValue, functionOption, numberOption, rangeError, restoreOptions } from './validate.js'

/** Options of {@link Hysteresis}. Every field is validated at construction. */
export interface HysteresisOptions {
  /** Consecutive updates the desired mode must differ from the effective one before a switch. Integer in [0, 1e12]. Default 50. */
  dwellTicks?: number
  /**
   * Dwell before a switch to a more precise mode (`FAB0` → `FAB1`, `FAB1` →
   * `FAB2`, ...), replacing `dwellTicks` in that direction: "upgrade slow".
   * Integer in [0, 1e12], or `null` (the default) for `dwellTicks`.
   */
  upgradeDwellTicks?: number | null
  /**
   * Dwell before a switch to a safer mode, replacing `dwellTicks` in that
   * direction: "downgrade fast". Integer in [0, 1e12], or `null` (the
   * default) for `dwellTicks`.
   */
  downgradeDwellTicks?: number | null
  /** Ticks that must pass between two switches (the first switch is free). Integer in [0, 1e12]. Default 1000. */
  rateLimitTicks?: number
  /** A switch within this many ticks of the previous one counts as an oscillation. Integer in [0, 1e12]. Default 300. */
  oscWindow?: number
  /**
   * Switches looked at when detecting an oscillation, this one included.
   * Since ticks never go backwards, only the previous switch can be the
   * closest, so any value of 2 or more behaves the same and 1 turns
   * oscillation counting off. Kept for parity with the reference. Integer in
   * [1, 1e6]. Default 5000.
   */
  maxHistory?: number
  /** Trailing window of the per-second rates, in ms of the clock, counted in 60 buckets (see `EventWindow`). In (0, 86400000]. Default 60000. */
  rateWindowMs?: number
  /** The effective (and desired) mode before any update. Default `FAB2`. */
  initialMode?: FabMode
  /** Clock in ms used for the per-second rates. Default: `performance.now()`. */
  clock?: Clock
  /** Throw a `RangeError` on an invalid update instead of ignoring and counting it. Default false. */
  strict?: boolean
}

/** The validated, JSON-safe configuration of a filter (no clock). */
export interface HysteresisConfig {
  /** {@inheritDoc HysteresisOptions.dwellTicks} */
  readonly dwellTicks: number
  /** `null`: `dwellTicks`. */
  readonly upgradeDwellTicks: number | null
  /** `null`: `dwellTicks`. */
  readonly downgradeDwellTicks: number | null
  /** {@inheritDoc HysteresisOptions.rateLimitTicks} */
  readonly rateLimitTicks: number
  /** {@inheritDoc HysteresisOptions.oscWindow} */
  readonly oscWindow: number
  /** {@inheritDoc HysteresisOptions.maxHistory} */
  readonly maxHistory: number
  /** {@inheritDoc HysteresisOptions.rateWindowMs} */
  readonly rateWindowMs: number
  /** {@inheritDoc HysteresisOptions.initialMode} */
  readonly initialMode: FabMode
}

/** The reference implementation's defaults, plus a 60 s rate window. */
export const HYSTERESIS_DEFAULTS: HysteresisConfig = Object.freeze({
  dwellTicks: 50,
  upgradeDwellTicks: null,
  downgradeDwellTicks: null,
  rateLimitTicks: 1000,
  oscWindow: 300,
  maxHistory: 5000,
  rateWindowMs: 60_000,
  initialMode: 'FAB2',
})

/** State of a filter, as {@link Hysteresis.getMetrics} returns it. */
export interface HysteresisMetrics {
  /** The mode in force. */
  effectiveMode: FabMode
  /** The last desired mode received. */
  desiredMode: FabMode
  /** Consecutive updates whose desired mode differed from the effective one. */
  dwellCounter: number
  /** Tick of the last switch; `null` before the first. */
  lastSwitchTick: number | null
  /** Ticks from the last switch to the last update; `null` before the first switch. */
  lastSwitchAge: number | null
  /** Switches so far. */
  switchCount: number
  /** Switches that came within `oscWindow` ticks of the previous one. */
  oscCount: number
  /** Switches per second of the clock over the trailing `rateWindowMs`. */
  switchRatePerSec: number
  /** Oscillations per second of the clock over the trailing `rateWindowMs`. */
  oscillationRatePerSec: number
  /** Updates ignored because the mode or the tick was invalid. */
  invalidUpdates: number
  /** The mode the filter itself holds; differs from `effectiveMode` only while a pin forces another. */
  filteredMode: FabMode
  /** The pin in force, or `null`; see {@link Hysteresis.pin}. */
  pinned: PinInfo | null
}

/** A pin in force, as {@link Hysteresis.pinned} reports it. */
export interface PinInfo {
  /** The forced mode. */
  readonly mode: FabMode
  /** Time of the clock at which the pin ends by itself; `null`: until lifted. */
  readonly untilMs: number | null
  /** Time left, in ms of the clock (never negative); `null`: until lifted. */
  readonly remainingMs: number | null
}

/** Options of {@link Hysteresis.pin}. */
export interface PinOptions {
  /** How long the pin holds, in ms of the filter's clock; omitted: until `unpin()`. In (0, 1e12]. */
  forMs?: number
}

/** The fields {@link Hysteresis.configure} changes on a live filter. */
export type HysteresisChange = Partial<Pick<HysteresisConfig, 'dwellTicks' | 'upgradeDwellTicks' | 'downgradeDwellTicks' | 'rateLimitTicks' | 'oscWindow' | 'maxHistory'>>

/** A versioned, JSON-safe snapshot of a filter. */
export interface HysteresisSnapshot {
  /** Always {@link HYSTERESIS_SNAPSHOT_FORMAT}: tells a filter snapshot from any other JSON. */
  readonly format: typeof HYSTERESIS_SNAPSHOT_FORMAT
  /** Layout version of the snapshot; `fromJSON` refuses versions it does not know. */
  readonly version: 1
  /** The configuration the filter ran with. */
  readonly config: HysteresisConfig
  /** The modes and counters, as of the snapshot. */
  readonly state: {
    /** See {@link HysteresisMetrics.effectiveMode}. */
    readonly effectiveMode: FabMode
    /** See {@link HysteresisMetrics.desiredMode}. */
    readonly desiredMode: FabMode
    /** See {@link HysteresisMetrics.dwellCounter}. */
    readonly dwellCounter: number
    /** See {@link HysteresisMetrics.lastSwitchTick}. */
    readonly lastSwitchTick: number | null
    /** Tick of the last valid update; `null` before the first. */
    readonly lastTick: number | null
    /** See {@link HysteresisMetrics.switchCount}. */
    readonly switchCount: number
    /** See {@link HysteresisMetrics.oscCount}. */
    readonly oscCount: number
    /** See {@link HysteresisMetrics.invalidUpdates}. */
    readonly invalidUpdates: number
    /** Switches in the trailing rate window as `[ageMs, count]`, oldest first, ages taken when the snapshot was made. */
    readonly switches: readonly (readonly [number, number])[]
    /** Oscillations in the trailing rate window, as `switches`. */
    readonly oscillations: readonly (readonly [number, number])[]
  }
}

/** Options accepted by {@link Hysteresis.fromJSON}: the non-serialisable ones. */
export interface HysteresisRestoreOptions {
  /** {@inheritDoc HysteresisOptions.clock} */
  clock?: Clock
  /** {@inheritDoc HysteresisOptions.strict} */
  strict?: boolean
}

const OWNER = 'Hysteresis'
/** The `format` field of every {@link HysteresisSnapshot}. */
export const HYSTERESIS_SNAPSHOT_FORMAT = 'auris.hysteresis'
/** Keys every snapshot holds; the per-direction dwells came later and default to `null`. */
const SNAPSHOT_KEYS = ['dwellTicks', 'rateLimitTicks', 'oscWindow', 'maxHistory', 'rateWindowMs', 'initialMode'] as const
const CONFIG_KEYS = [...SNAPSHOT_KEYS, 'upgradeDwellTicks', 'downgradeDwellTicks'] as const
const CHANGE_KEYS = ['dwellTicks', 'upgradeDwellTicks', 'downgradeDwellTicks', 'rateLimitTicks', 'oscWindow', 'maxHistory'] as const
const OPTION_KEYS = [...CONFIG_KEYS, 'clock', 'strict'] as const
const MAX_TICKS = 1e12
const MAX_COUNT = Number.MAX_SAFE_INTEGER
/** Most `[ageMs, count]` pairs a snapshot's rate window may hold (61 buckets; earlier versions kept up to 1024 instants). */
const RATE_HISTORY = 1024

/** Validates filter options into a config; throws a `RangeError` naming the bad field. */
export function resolveHysteresisConfig(options?: HysteresisOptions): HysteresisConfig {
  const o = checkOptionKeys(OWNER, options, OPTION_KEYS)
  const d = HYSTERESIS_DEFAULTS
  const ticks = { min: 0, max: MAX_TICKS, integer: true }
  const initialMode = o.initialMode ?? d.initialMode
  if (!isFabMode(initialMode)) throw rangeError(OWNER, 'initialMode', initialMode, 'one of "FAB0", "FAB1", "FAB2"')
  const directional = (field: 'upgradeDwellTicks' | 'downgradeDwellTicks'): number | null => {
    const value = o[field]
    return value === null || value === undefined ? null : numberOption(OWNER, field, value, 0, ticks)
  }
  return {
    dwellTicks: numberOption(OWNER, 'dwellTicks', o.dwellTicks, d.dwellTicks, ticks),
    upgradeDwellTicks: directional('upgradeDwellTicks'),
    downgradeDwellTicks: directional('downgradeDwellTicks'),
    rateLimitTicks: numberOption(OWNER, 'rateLimitTicks', o.rateLimitTicks, d.rateLimitTicks, ticks),
    oscWindow: numberOption(OWNER, 'oscWindow', o.oscWindow, d.oscWindow, ticks),
    maxHistory: numberOption(OWNER, 'maxHistory', o.maxHistory, d.maxHistory, { min: 1, max: 1e6, integer: true }),
    rateWindowMs: numberOption(OWNER, 'rateWindowMs', o.rateWindowMs, d.rateWindowMs, { min: 1, max: 86_400_000 }),
    initialMode,
  }
}

/**
 * Validated, shareable construction inputs of a filter.
 *
 * @internal
 */
export interface HysteresisSetup {
  readonly config: HysteresisConfig
  readonly params: HysteresisParams
  readonly clock: Clock
  readonly strict: boolean
}

/**
 * Storage for a filter inside a registry block, with the shared setup.
 *
 * @internal
 */
export interface HysteresisBinding {
  readonly setup: HysteresisSetup
  readonly state: Float64Array
  readonly offset: number
}

/**
 * Validates options into a {@link HysteresisSetup}; throws a `RangeError` naming the bad field.
 *
 * @internal
 */
export function hysteresisSetup(options?: HysteresisOptions): HysteresisSetup {
  const config = Object.freeze(resolveHysteresisConfig(options))
  return {
    config,
    params: hysteresisParams(config),
    clock: functionOption<Clock>(OWNER, 'clock', options?.clock, monotonicClock),
    strict: booleanOption(OWNER, 'strict', options?.strict, false),
  }
}

/** Step constants of a config. @internal */
export function hysteresisParams(config: HysteresisConfig): HysteresisParams {
  return {
    upgradeDwellTicks: config.upgradeDwellTicks ?? config.dwellTicks,
    downgradeDwellTicks: config.downgradeDwellTicks ?? config.dwellTicks,
    rateLimitTicks: config.rateLimitTicks,
    oscWindow: config.oscWindow,
    detectOscillations: config.maxHistory >= 2,
  }
}

/**
 * Validates a run-time change of a filter config and returns the new config.
 *
 * @throws {RangeError} naming the field, the value and the allowed range.
 * @internal
 */
export function changeHysteresisConfig(current: HysteresisConfig, change: unknown, owner = `${OWNER}.configure`): HysteresisConfig {
  const o = checkOptionKeys(owner, change, CHANGE_KEYS)
  return Object.freeze(resolveHysteresisConfig({ ...current, ...o }))
}

/** Where a registry-bound filter reports to. @internal */
export interface FilterHost {
  readonly windowId: string | null
  readonly parent: Emitter | null
  /** Called with +1 when the filter starts needing the observed path (a listener, a pin) and -1 when it stops. */
  watch(delta: number): void
}

interface Pin {
  readonly mode: number
  readonly until: number
}

/** Hold reasons by code, as the observed path computes them. */
const HOLD_REASONS: readonly HoldReason[] = ['dwell', 'rate-limit', 'oscillation', 'pinned']

/**
 * Anti-chatter filter: turns a desired ("recommended") mode into an
 * effective mode that does not flap. A switch needs the desired mode to
 * differ for `dwellTicks` consecutive updates and at least `rateLimitTicks`
 * ticks since the previous switch; a switch within `oscWindow` ticks of the
 * previous one is counted as an oscillation. Tick for tick identical to the
 * reference implementation; `lastSwitchAge` and the per-second rates are
 * computed correctly (the reference reports an age of 0 and rates per 1000
 * ticks).
 *
 * @example
 * ```ts
 * const filter = new Hysteresis({ dwellTicks: 3, rateLimitTicks: 0 })
 * filter.update('FAB1', 1) // 'FAB2': dwell 1 of 3
 * filter.update('FAB1', 2) // 'FAB2'
 * filter.update('FAB1', 3) // 'FAB1': switched
 * ```
 */
export class Hysteresis {
  static {
    brand(this.prototype, 'hysteresis')
  }

  /** Brand recognised by {@link isHysteresis} across copies of this package. */
  declare readonly [STABILITY_KIND]: 'hysteresis'
  /** Whether invalid updates throw instead of being counted. */
  readonly strict: boolean

  private cfg: HysteresisConfig
  private p: HysteresisParams
  private readonly clock: Clock
  private readonly switchTimes: EventWindow
  private readonly oscTimes: EventWindow
  private s: Float64Array
  private o: number
  private invalid = 0
  /** A listener or a pin: update() takes the observed path. */
  private observed = false
  private emitter: Emitter | null = null
  private pinState: Pin | null = null
  /** The last hold announced, as reason code * 4 + held mode; -1 when none is pending. */
  private heldKey = -1
  private host: FilterHost | null = null

  /**
   * @param options validated here; see {@link HysteresisOptions}.
   * @throws {RangeError} when an option is outside its allowed range.
   */
  constructor(options?: HysteresisOptions)
  /**
   * Lets a window registry place the state in its own storage.
   *
   * @internal
   */
  constructor(options: HysteresisOptions | undefined, binding: HysteresisBinding)
  constructor(options?: HysteresisOptions, binding?: HysteresisBinding) {
    const setup = binding?.setup ?? hysteresisSetup(options)
    this.cfg = setup.config
    this.strict = setup.strict
    this.p = setup.params
    this.clock = setup.clock
    this.switchTimes = new EventWindow(setup.config.rateWindowMs)
    this.oscTimes = new EventWindow(setup.config.rateWindowMs)
    this.s = binding?.state ?? new Float64Array(HYSTERESIS_SLOTS)
    this.o = binding?.offset ?? 0
    initHysteresis(this.s, this.o, MODE_TO_NUMERIC[setup.config.initialMode])
  }

  /**
   * Feeds the desired mode at tick `tick` and returns the effective mode.
   * Ticks must not decrease. An invalid mode or tick (not a FAB mode; a
   * tick that is not finite or goes backwards) leaves the state untouched
   * and is counted in `invalidUpdates` (or throws a `RangeError` with
   * `strict`).
   */
  update(desired: FabMode, tick: number): FabMode {
    const s = this.s
    const o = this.o
    const index = modeIndex(desired)
    if (index < 0 || typeof tick !== 'number' || !(tick >= lastTickOf(s, o) && tick - tick === 0) || this.observed) {
      return this.updateSlow(desired, tick)
    }
    // The step reads the tick from the filter's last-tick slot (4).
    s[o + 4] = tick
    const result = stepHysteresis(s, o, this.p, index)
    if (result !== 0) this.recordSwitch(result === OSCILLATED)
    return modeName(effectiveIndex(s, o))
  }

  /** The rare paths of `update`: an invalid update, or one that listeners or a pin watch. */
  private updateSlow(desired: FabMode, tick: number): FabMode {
    const s = this.s
    const o = this.o
    const index = modeIndex(desired)
    if (index < 0 || typeof tick !== 'number' || !(tick >= lastTickOf(s, o) && tick - tick === 0)) {
      this.rejectUpdate(desired, tick)
    } else {
      const before = s[o] as number
      s[o + 4] = tick
      const result = stepHysteresis(s, o, this.p, index)
      if (result !== 0) this.recordSwitch(result === OSCILLATED)
      this.observe(before, result, null, null, 'desired')
    }
    return this.effectiveMode
  }

  /**
   * Announces what the step just did: a switch (or, under a pin, a switch
   * held back), a change held back by dwell or rate limit, a pin that expired.
   * `before` is the filter's own mode before the step.
   *
   * @internal
   */
  observe(before: number, result: number, ema: number | null, score: number | null, reason: TransitionReason): void {
    const s = this.s
    const o = this.o
    const own = s[o] as number
    // The common tick: no switch, nothing desired elsewhere, no hold announced, no pin.
    if (own === before && s[o + 1] === own && this.heldKey === -1 && this.pinState === null) return
    const tick = s[o + 4] as number
    const pin = this.pinState
    if (own !== before) {
      if (pin === null) this.emit('effective', before, own, reason, null, ema, score, tick, result === OSCILLATED)
      else if (own !== pin.mode) this.emit('held', pin.mode, own, reason, 'pinned', ema, score, tick, false)
    }
    // A pin past its time ends here, after the step it covered.
    if (pin !== null) this.expirePin(this.clock())
    const desired = s[o + 1] as number
    if (this.pinState !== null || desired === own) {
      this.heldKey = -1
      return
    }
    const dwell = s[o + 2] as number
    const p = this.p
    let why = 0
    if (dwell >= (desired > own ? p.upgradeDwellTicks : p.downgradeDwellTicks)) {
      why = p.detectOscillations && tick - (s[o + 3] as number) <= p.oscWindow ? 2 : 1
    }
    const key = why * 4 + desired
    if (key === this.heldKey) return
    this.heldKey = key
    this.emit('held', own, desired, reason, HOLD_REASONS[why] as HoldReason, ema, score, tick, false)
  }

  private emit(
    kind: 'effective' | 'held',
    from: number,
    to: number,
    reason: TransitionReason,
    held: HoldReason | null,
    ema: number | null,
    score: number | null,
    tick: number,
    oscillation: boolean,
  ): void {
    const own = this.emitter
    const parent = this.host?.parent ?? null
    if (own?.active !== true && parent?.active !== true) return
    const event = transition(kind, this.host?.windowId ?? null, modeName(from), modeName(to), reason, held, ema, score, tick, oscillation)
    own?.emit(event)
    parent?.emit(event)
  }

  /**
   * Subscribes `listener` to this filter's transitions: every switch of the
   * effective mode, every pin starting or ending, and every change held
   * back (once per held mode and reason, not once per tick). Returns the
   * function that unsubscribes. A listener that throws is isolated and
   * counted in `listenerErrors`. Without listeners, `update()` takes the
   * same path as before events existed.
   *
   * @example
   * ```ts
   * const filter = new Hysteresis({ dwellTicks: 2, rateLimitTicks: 0 })
   * const off = filter.onTransition((e) => console.log(e.kind, e.from, e.to, e.reason, e.held))
   * filter.update('FAB1', 1) // held FAB2 FAB1 desired dwell
   * filter.update('FAB1', 2) // effective FAB2 FAB1 desired null
   * off()
   * ```
   */
  onTransition(listener: TransitionListener): () => void {
    this.emitter ??= new Emitter(OWNER, () => {
      this.refreshObserved()
    })
    return this.emitter.subscribe(listener)
  }

  /** Listener calls that threw, over the filter's life. */
  get listenerErrors(): number {
    return this.emitter?.errors ?? 0
  }

  /**
   * Forces the effective mode to `mode` until `unpin()` or, with `forMs`,
   * until that much time of the filter's clock has passed; the pin then
   * ends by itself (noticed at the next update or read, which announces
   * it). The filter keeps filtering underneath, so the mode it would have
   * had is in force again as soon as the pin ends. A new pin replaces the
   * one in force. Emits an `effective` event with reason `forced` (and one
   * with `restored` when it ends), even when the mode stays the same.
   *
   * @throws {RangeError} when `mode` is not a FAB mode or `forMs` is not in (0, 1e12].
   * @example
   * ```ts
   * let now = 0
   * const filter = new Hysteresis({ clock: () => now })
   * filter.pin('FAB0', { forMs: 5000 })
   * filter.effectiveMode // 'FAB0'
   * now = 5000
   * filter.effectiveMode // 'FAB2': the pin ended by itself
   * ```
   */
  pin(mode: FabMode, options?: PinOptions): void {
    if (!isFabMode(mode)) throw rangeError(`${OWNER}.pin`, 'mode', mode, 'one of "FAB0", "FAB1", "FAB2"')
    const o = checkOptionKeys(`${OWNER}.pin`, options, ['forMs'])
    const forMs = numberOption(`${OWNER}.pin`, 'forMs', o.forMs, Infinity, { min: 0, max: 1e12, minExclusive: true })
    const from = this.effectiveMode
    const until = forMs === Infinity ? Infinity : this.clock() + forMs
    this.pinState = { mode: MODE_TO_NUMERIC[mode], until }
    this.refreshObserved()
    this.emit('effective', MODE_TO_NUMERIC[from], MODE_TO_NUMERIC[mode], 'forced', null, null, null, this.lastTickOrZero(), false)
  }

  /** Lifts the pin in force; returns whether there was one. Emits an `effective` event with reason `restored`. */
  unpin(): boolean {
    const pin = this.pinState
    if (pin === null) return false
    this.endPin(pin)
    return true
  }

  /** The pin in force, or `null` (a pin past its time has ended). */
  get pinned(): PinInfo | null {
    return this.pinInfo(undefined)
  }

  private pinInfo(now: number | undefined): PinInfo | null {
    if (this.pinState === null) return null
    const t = now ?? this.clock()
    this.expirePin(t)
    const pin = this.pinState as Pin | null
    if (pin === null) return null
    const forever = pin.until === Infinity
    return { mode: modeName(pin.mode), untilMs: forever ? null : pin.until, remainingMs: forever ? null : Math.max(0, pin.until - t) }
  }

  /**
   * Ends the pin if its time has come (`now` from the filter's clock).
   *
   * @internal
   */
  expirePin(now: number): void {
    const pin = this.pinState
    if (pin !== null && now >= pin.until) this.endPin(pin)
  }

  private endPin(pin: Pin): void {
    this.pinState = null
    this.heldKey = -1
    this.refreshObserved()
    this.emit('effective', pin.mode, this.s[this.o] as number, 'restored', null, null, null, this.lastTickOrZero(), false)
  }

  private lastTickOrZero(): number {
    const last = this.s[this.o + 4] as number
    return last === -Infinity ? 0 : last
  }

  private refreshObserved(): void {
    const observed = this.pinState !== null || (this.emitter?.active ?? false)
    if (observed === this.observed) return
    this.observed = observed
    this.host?.watch(observed ? 1 : -1)
  }

  /**
   * Places the filter in a registry window: events carry the window id and
   * reach the registry's listeners too.
   *
   * @internal
   */
  bind(host: FilterHost | null): void {
    if (this.observed) this.host?.watch(-1)
    this.host = host
    if (this.observed) host?.watch(1)
  }

  /** The validated configuration (replaced by {@link Hysteresis.configure}). */
  get config(): HysteresisConfig {
    return this.cfg
  }

  /**
   * Changes dwell (both directions), rate limit, oscillation window or
   * history of the live filter, keeping its state: the effective mode, the
   * dwell counter, the last switch and the counters carry on under the new
   * values (a dwell counter already past a shorter dwell switches at the
   * next differing update). `rateWindowMs` and `initialMode` are fixed at
   * construction.
   *
   * @throws {RangeError} naming the field, the value and the allowed range; nothing changes then.
   * @example
   * ```ts
   * const filter = new Hysteresis()
   * filter.configure({ downgradeDwellTicks: 5, upgradeDwellTicks: 200 })
   * filter.config.dwellTicks // 50 (still the default for neither direction)
   * ```
   */
  configure(change: HysteresisChange): void {
    this.reconfigure(changeHysteresisConfig(this.cfg, change))
  }

  /** @internal */
  reconfigure(config: HysteresisConfig, params: HysteresisParams = hysteresisParams(config)): void {
    this.cfg = config
    this.p = params
    this.heldKey = -1
  }

  /**
   * Times a switch the step function made.
   *
   * @internal
   */
  recordSwitch(oscillated: boolean): void {
    const now = this.clock()
    this.switchTimes.record(now)
    if (oscillated) this.oscTimes.record(now)
  }

  /** The mode in force: the pin's while one holds, else the filter's own. */
  get effectiveMode(): FabMode {
    if (this.pinState !== null) {
      const pin = this.pinInfo(undefined)
      if (pin !== null) return pin.mode
    }
    return modeName(effectiveIndex(this.s, this.o))
  }

  /** The last desired mode received. */
  get desiredMode(): FabMode {
    return modeName(this.s[this.o + H_DESIRED] as number)
  }

  /** The current state. Reads the clock once for the rates, unless `now` (a reading of the same clock) is given. */
  getMetrics(now?: number): HysteresisMetrics {
    const s = this.s
    const o = this.o
    const switches = s[o + H_SWITCHES] as number
    const oscillations = s[o + H_OSC] as number
    const switched = switches > 0
    const lastSwitch = s[o + H_LAST_SWITCH] as number
    // No switch yet means both rate windows are empty: skip the clock.
    const t = switched || this.pinState !== null ? (now ?? this.clock()) : 0
    const pinned = this.pinInfo(t)
    const seconds = this.cfg.rateWindowMs / 1000
    return {
      effectiveMode: pinned?.mode ?? modeName(s[o + H_EFFECTIVE] as number),
      desiredMode: modeName(s[o + H_DESIRED] as number),
      dwellCounter: s[o + H_DWELL] as number,
      lastSwitchTick: switched ? lastSwitch : null,
      lastSwitchAge: switched ? (s[o + H_LAST_TICK] as number) - lastSwitch : null,
      switchCount: switches,
      oscCount: oscillations,
      switchRatePerSec: switched ? this.switchTimes.count(t) / seconds : 0,
      oscillationRatePerSec: oscillations > 0 ? this.oscTimes.count(t) / seconds : 0,
      invalidUpdates: this.invalid,
      filteredMode: modeName(s[o + H_EFFECTIVE] as number),
      pinned,
    }
  }

  /** A versioned, JSON-safe snapshot; {@link Hysteresis.fromJSON} restores it. */
  toJSON(): HysteresisSnapshot {
    const now = this.clock()
    const s = this.s
    const o = this.o
    const switches = s[o + H_SWITCHES] as number
    const lastTick = s[o + H_LAST_TICK] as number
    return {
      format: HYSTERESIS_SNAPSHOT_FORMAT,
      version: 1,
      config: { ...this.cfg },
      state: {
        // The filter's own mode: a pin is run-time steering and is not saved.
        effectiveMode: modeName(s[o + H_EFFECTIVE] as number),
        desiredMode: this.desiredMode,
        dwellCounter: s[o + H_DWELL] as number,
        lastSwitchTick: switches > 0 ? (s[o + H_LAST_SWITCH] as number) : null,
        lastTick: lastTick === -Infinity ? null : lastTick,
        switchCount: switches,
        oscCount: s[o + H_OSC] as number,
        invalidUpdates: this.invalid,
        switches: this.switchTimes.toAges(now),
        oscillations: this.oscTimes.toAges(now),
      },
    }
  }

  /**
   * Restores a filter from {@link Hysteresis.toJSON}'s output. Its next
   * updates are identical to the original's.
   *
   * @throws {SnapshotError} when the snapshot is malformed, foreign or
   *   inconsistent; nothing is half-restored.
   */
  static fromJSON(snapshot: unknown, options?: HysteresisRestoreOptions): Hysteresis {
    const state = guardRead(OWNER, () => readHysteresisSnapshot(snapshot))
    const filter = new Hysteresis({ ...state.config, ...restoreOptions(options) })
    filter.load(state)
    return filter
  }

  /**
   * Loads a validated snapshot state into this filter.
   *
   * @internal
   */
  load(state: ValidatedHysteresisState): void {
    const s = this.s
    const o = this.o
    s[o + H_EFFECTIVE] = MODE_TO_NUMERIC[state.effectiveMode]
    s[o + H_DESIRED] = MODE_TO_NUMERIC[state.desiredMode]
    s[o + H_DWELL] = state.dwellCounter
    s[o + H_LAST_SWITCH] = state.lastSwitchTick ?? Number.NaN
    s[o + H_LAST_TICK] = state.lastTick ?? -Infinity
    s[o + H_SWITCHES] = state.switchCount
    s[o + H_OSC] = state.oscCount
    this.invalid = state.invalidUpdates
    const now = this.clock()
    this.switchTimes.loadAges(state.switches, now)
    this.oscTimes.loadAges(state.oscillations, now)
  }

  /**
   * Moves the state out of shared storage into an array of its own.
   *
   * @internal
   */
  detach(): void {
    this.s = this.s.slice(this.o, this.o + HYSTERESIS_SLOTS)
    this.o = 0
    this.bind(null)
  }

  private rejectUpdate(desired: unknown, tick: unknown): void {
    if (this.strict) {
      const last = this.s[this.o + H_LAST_TICK] as number
      const problem = !isFabMode(desired)
        ? `desired must be one of "FAB0", "FAB1", "FAB2"; got ${describeValue(desired)}`
        : `tick must be a finite number${last === -Infinity ? '' : ` not below the previous tick ${String(last)}`}; got ${describeValue(tick)}`
      throw new RangeError(`${OWNER}.update: ${problem}`)
    }
    this.invalid++
  }
}

/** A snapshot's state after validation. @internal */
export type ValidatedHysteresisState = HysteresisSnapshot['state'] & { readonly config: HysteresisConfig }

/**
 * Validates a filter snapshot without building anything.
 *
 * @internal
 */
export function readHysteresisSnapshot(snapshot: unknown): ValidatedHysteresisState {
  const r = new SnapshotReader(OWNER)
  const root = r.object(snapshot, '')
  if (root.format !== HYSTERESIS_SNAPSHOT_FORMAT) throw r.fail('format', `must be "${HYSTERESIS_SNAPSHOT_FORMAT}"; got ${describeValue(root.format)}`)
  if (root.version !== 1) throw r.fail('version', `${describeValue(root.version)} is not supported (this version reads 1)`)
  const rawConfig = r.object(root.config, 'config')
  for (const key of SNAPSHOT_KEYS) {
    if (rawConfig[key] === undefined) throw r.fail(`config.${key}`, 'is missing')
  }
  let config: HysteresisConfig
  try {
    config = resolveHysteresisConfig(checkOptionKeys(OWNER, rawConfig, CONFIG_KEYS))
  } catch (error) {
    throw r.fail('config', (error as Error).message)
  }
  const s = r.object(root.state, 'state')
  const mode = (key: string): FabMode => {
    const value = s[key]
    if (!isFabMode(value)) throw r.fail(`state.${key}`, 'must be one of "FAB0", "FAB1", "FAB2"')
    return value
  }
  const switchCount = r.number(s, 'switchCount', 'state', 0, MAX_COUNT, true)
  const state: ValidatedHysteresisState = {
    config,
    effectiveMode: mode('effectiveMode'),
    desiredMode: mode('desiredMode'),
    dwellCounter: r.number(s, 'dwellCounter', 'state', 0, MAX_COUNT, true),
    // update() accepts any finite tick (a nanosecond clock gives 1.7e18), so a snapshot restores the same range.
    lastSwitchTick: r.nullableNumber(s, 'lastSwitchTick', 'state', -Number.MAX_VALUE, Number.MAX_VALUE),
    lastTick: r.nullableNumber(s, 'lastTick', 'state', -Number.MAX_VALUE, Number.MAX_VALUE),
    switchCount,
    // The first switch has no previous one to oscillate with.
    oscCount: r.number(s, 'oscCount', 'state', 0, Math.max(0, switchCount - 1), true),
    invalidUpdates: r.number(s, 'invalidUpdates', 'state', 0, MAX_COUNT, true),
    switches: r.pairs(s, 'switches', 'state', RATE_HISTORY),
    oscillations: r.pairs(s, 'oscillations', 'state', RATE_HISTORY),
  }
  if ((state.lastSwitchTick === null) !== (switchCount === 0)) {
    throw r.fail('state.lastSwitchTick', 'must be null exactly when switchCount is 0')
  }
  if (state.lastSwitchTick !== null && (state.lastTick === null || state.lastSwitchTick > state.lastTick)) {
    throw r.fail('state.lastSwitchTick', 'is later than the last tick')
  }
  if (state.dwellCounter > 0 && state.desiredMode === state.effectiveMode) {
    throw r.fail('state.dwellCounter', 'must be 0 while the desired mode equals the effective one')
  }
  if (state.lastTick === null && (state.dwellCounter > 0 || state.desiredMode !== state.effectiveMode)) {
    throw r.fail('state.lastTick', 'is null (no update yet) while the state shows updates')
  }
  for (const [key, pairs] of [['switches', state.switches], ['oscillations', state.oscillations]] as const) {
    if (pairs.some(([age]) => age > config.rateWindowMs)) throw r.fail(`state.${key}`, 'holds an entry older than rateWindowMs')
  }
  // Each timed switch (or oscillation) is one the counters hold.
  const switchesTimed = sumCounts(state.switches)
  if (switchesTimed > switchCount) throw r.fail('state.switches', `holds ${String(switchesTimed)} switches, more than switchCount (${String(switchCount)})`)
  const oscillationsTimed = sumCounts(state.oscillations)
  if (oscillationsTimed > state.oscCount) throw r.fail('state.oscillations', `holds ${String(oscillationsTimed)} oscillations, more than oscCount (${String(state.oscCount)})`)
  if (oscillationsTimed > switchesTimed) throw r.fail('state.oscillations', 'holds more oscillations than switches in the rate window')
  return state
}

function sumCounts(pairs: readonly (readonly [number, number])[]): number {
  let sum = 0
  for (const [, n] of pairs) sum += n
  return sum
}
