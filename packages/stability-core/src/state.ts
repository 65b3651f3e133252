/**
 * The hot state of trackers and filters, and the two step functions that
 * advance it. State lives in a `Float64Array` at an offset: a standalone
 * tracker owns a small array, while a window registry packs every window's
 * tracker and filter into one 128-byte block of a shared chunk. A tick then
 * touches two adjacent cache lines instead of a chain of objects, which is
 * what keeps a tick on a random window of a large registry cheap.
 *
 * The step functions assume valid input; the classes validate first.
 *
 * Inlining. A tick is only cheap when TurboFan inlines the whole chain
 * (class method, step functions) into the caller: an out-of-line call costs
 * the call and, for a double argument such as the score, a heap-allocated
 * box. TurboFan inlines by bytecode size against a cumulative budget per
 * optimised function (920 bytes in V8 11, each candidate counted at 1.2 times
 * its size, plus what it had already inlined if it was optimised on its own),
 * so the hot functions here stay small: each rare branch (an event, a mode
 * switch) is a separate function taking no double argument, and the filter
 * step reads its tick from the state, where the caller stores it anyway.
 */

/*
 * Layout. The step functions below write the slot numbers as literals: an
 * imported or module-level `const` is a live binding that the JIT loads and
 * hole-checks on every access, which cost ~40% of a tick in the benchmark.
 *
 *   tracker  0 stable ticks   1 event count   2 cool-down left   3 EMA
 *            4 last score (NaN before the first sample)   5 ticks   6 total events
 *   filter   0 effective mode   1 desired mode   2 dwell counter
 *            3 last switch tick (NaN before the first)   4 last tick (-Infinity before the first)
 *            5 switches   6 oscillations
 *   registry block: tracker at 0, filter at 8; 16 doubles = two cache lines.
 */
/** @internal */
export const T_STABLE = 0
/** @internal */
export const T_COUNT = 1
/** @internal */
export const T_COOLDOWN = 2
/** @internal */
export const T_EMA = 3
/** @internal */
export const T_LAST = 4
/** @internal */
export const T_TICKS = 5
/** @internal */
export const T_TOTAL = 6
/** @internal */
export const TRACKER_SLOTS = 7
/** @internal */
export const H_EFFECTIVE = 0
/** @internal */
export const H_DESIRED = 1
/** @internal */
export const H_DWELL = 2
/** @internal */
export const H_LAST_SWITCH = 3
/** @internal */
export const H_LAST_TICK = 4
/** @internal */
export const H_SWITCHES = 5
/** @internal */
export const H_OSC = 6
/** @internal */
export const HYSTERESIS_SLOTS = 7
/** @internal */
export const BLOCK_HYSTERESIS = 8
/** @internal */
export const BLOCK_STRIDE = 16

/** Constants a tracker step needs, shared by every tracker with the same config. @internal */
export interface TrackerParams {
  readonly threshold: number
  readonly minStableTicks: number
  readonly decay: number
  readonly oneMinusDecay: number
  readonly cooldownBase: number
  readonly cooldownMaxTicks: number
  /** The event count from which `trunc(base ** count)` reaches the cap (Infinity when it never does). */
  readonly saturateAt: number
}

/** @internal */
export function trackerParams(c: {
  readonly degradationThreshold: number
  readonly minStableTicks: number
  readonly emaDecay: number
  readonly cooldownBase: number
  readonly cooldownMaxTicks: number
}): TrackerParams {
  let saturateAt = Infinity
  if (c.cooldownMaxTicks <= 1) saturateAt = 1
  else if (c.cooldownBase > 1) {
    // trunc(base ** n) never decreases with n: binary-search the first n that reaches the cap.
    const reaches = (n: number): boolean => Math.trunc(Math.pow(c.cooldownBase, n)) >= c.cooldownMaxTicks
    let lo = 1
    let hi = 2 ** 31
    if (reaches(hi)) {
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2)
        if (reaches(mid)) hi = mid
        else lo = mid + 1
      }
      saturateAt = lo
    }
  }
  return {
    threshold: c.degradationThreshold,
    minStableTicks: c.minStableTicks,
    decay: c.emaDecay,
    oneMinusDecay: 1 - c.emaDecay,
    cooldownBase: c.cooldownBase,
    cooldownMaxTicks: c.cooldownMaxTicks,
    saturateAt,
  }
}

/** Cool-down after the `count`-th event: `min(trunc(base ** count), max)`, without ever overflowing. @internal */
export function cooldownFor(p: TrackerParams, count: number): number {
  if (count >= p.saturateAt) return p.cooldownMaxTicks
  return Math.min(Math.trunc(Math.pow(p.cooldownBase, count)), p.cooldownMaxTicks)
}

/** @internal */
export function initTracker(s: Float64Array, o: number): void {
  s[o] = 0
  s[o + 1] = 0
  s[o + 2] = 0
  s[o + 3] = 1
  s[o + 4] = Number.NaN
}

/**
 * One tracker tick on a valid sample (`score` in [0, 1]). Returns whether
 * the sample was a degradation event, so the caller can time it.
 *
 * @internal
 */
export function stepTracker(s: Float64Array, o: number, p: TrackerParams, score: number, degraded: boolean): boolean {
  const event = degraded || (s[o + 4] as number) - score >= p.threshold
  s[o + 4] = score
  s[o + 5] = (s[o + 5] as number) + 1
  // An event starts a cool-down, so its instantaneous score is 0.
  let instant = 0
  if (event) startCooldown(s, o, p)
  else {
    // The cool-down is a whole number >= 0: it ends on the tick it reaches 0, which already counts as stable.
    let cooldown = s[o + 2] as number
    if (cooldown > 0) s[o + 2] = --cooldown
    if (cooldown === 0) {
      const stable = (s[o] as number) + 1
      s[o] = stable
      instant = stable >= p.minStableTicks ? 1 : stable / p.minStableTicks
    }
  }
  const ema = p.decay * (s[o + 3] as number) + p.oneMinusDecay * instant
  // Flush subnormals (below the smallest normal double, 2.2250738585072014e-308):
  // an EMA decaying through a long cool-down otherwise settles on a
  // subnormal that stays put (0.95 * 4e-323 rounds back to it), and
  // subnormal arithmetic costs ~100 cycles per operation on x86. The change
  // is far inside the conformance tolerance.
  s[o + 3] = ema < 2.2250738585072014e-308 ? 0 : ema
  return event
}

/** The rare half of {@link stepTracker}: a degradation resets the stable run and starts a cool-down. */
function startCooldown(s: Float64Array, o: number, p: TrackerParams): void {
  const count = (s[o + 1] as number) + 1
  s[o] = 0
  s[o + 1] = count
  s[o + 2] = cooldownFor(p, count)
  s[o + 6] = (s[o + 6] as number) + 1
}

/** Instantaneous score of the tracker state at `o`. @internal */
export function trackerScore(s: Float64Array, o: number, minStableTicks: number): number {
  if ((s[o + 2] as number) > 0) return 0
  const stable = s[o] as number
  return stable >= minStableTicks ? 1 : stable / minStableTicks
}

/** Constants a filter step needs. @internal */
export interface HysteresisParams {
  /** Dwell before a switch to a more precise mode (a higher index). */
  readonly upgradeDwellTicks: number
  /** Dwell before a switch to a safer mode (a lower index). */
  readonly downgradeDwellTicks: number
  readonly rateLimitTicks: number
  readonly oscWindow: number
  /** `maxHistory >= 2`: with one switch remembered there is never a previous one to compare. */
  readonly detectOscillations: boolean
}

/** @internal */
export function initHysteresis(s: Float64Array, o: number, initialMode: number): void {
  s[o] = initialMode
  s[o + 1] = initialMode
  s[o + 2] = 0
  s[o + 3] = Number.NaN
  s[o + 4] = -Infinity
  s[o + 5] = 0
  s[o + 6] = 0
}

/**
 * {@link stepHysteresis}' result for a switch within `oscWindow` ticks of
 * the previous one (a plain switch is 2, no switch 0): the
 * {@link WINDOW_SWITCH} and {@link WINDOW_OSCILLATION} bits of
 * {@link stepWindow}'s result, so a registry passes them on as they are.
 *
 * @internal
 */
export const OSCILLATED = 6

/**
 * One filter update with a valid mode index. The caller first stores the
 * tick (finite, not below the last one) at slot 4, the filter's last tick:
 * passing it through the state keeps a double argument off the call.
 * Returns 0, 2 (a switch) or 6 (a switch within `oscWindow` of the previous
 * one), so the caller can time switches.
 *
 * @internal
 */
export function stepHysteresis(s: Float64Array, o: number, p: HysteresisParams, desired: number): number {
  s[o + 1] = desired
  if (desired === s[o]) {
    s[o + 2] = 0
    return 0
  }
  const dwell = (s[o + 2] as number) + 1
  s[o + 2] = dwell
  // Per-direction dwell: a higher index is an upgrade. Equal by default, which is the reference's single dwell.
  const needed = desired > (s[o] as number) ? p.upgradeDwellTicks : p.downgradeDwellTicks
  return dwell < needed ? 0 : trySwitch(s, o, p)
}

/** The rare half of {@link stepHysteresis}: the desired mode has dwelt long enough; switch unless rate-limited. */
function trySwitch(s: Float64Array, o: number, p: HysteresisParams): number {
  const tick = s[o + 4] as number
  const switches = s[o + 5] as number
  const previous = s[o + 3] as number
  if (switches > 0 && tick - previous < p.rateLimitTicks) return 0
  s[o] = s[o + 1] as number
  s[o + 2] = 0
  s[o + 3] = tick
  s[o + 5] = switches + 1
  // Ticks never go backwards, so the previous switch is the closest one and
  // "at least two switches within oscWindow" reduces to checking it.
  if (p.detectOscillations && switches > 0 && tick - previous <= p.oscWindow) {
    s[o + 6] = (s[o + 6] as number) + 1
    return 6
  }
  return 2
}

/** Mode name for a mode index; a ternary of literals, so nothing is loaded. @internal */
export function modeName(index: number): 'FAB0' | 'FAB1' | 'FAB2' {
  return index === 2 ? 'FAB2' : index === 1 ? 'FAB1' : 'FAB0'
}

/** Mode index of a valid mode name, -1 for anything else. @internal */
export function modeIndex(mode: unknown): number {
  return mode === 'FAB2' ? 2 : mode === 'FAB1' ? 1 : mode === 'FAB0' ? 0 : -1
}

/** The filter's effective mode index. @internal */
export function effectiveIndex(s: Float64Array, o: number): number {
  return s[o] as number
}

/** The last tick the filter accepted (-Infinity before the first). @internal */
export function lastTickOf(s: Float64Array, o: number): number {
  return s[o + 4] as number
}

/** Bits of {@link stepWindow}'s result. @internal */
export const WINDOW_EVENT = 1
/** @internal */
export const WINDOW_SWITCH = 2
/** @internal */
export const WINDOW_OSCILLATION = 4
/** The filter's last tick is ahead of the tracker's (someone drove it by hand): the update was not made. @internal */
export const WINDOW_FILTER_BEHIND = 8

/**
 * One registry tick on a valid sample: the tracker step, then (with a
 * filter) the filter step fed with the tracker's recommended mode at the
 * tracker's tick count. Returns a bit set of `WINDOW_*` flags, 0 in the
 * common case, so the caller only leaves the fast path to time an event or
 * a switch.
 *
 * @internal
 */
export function stepWindow(s: Float64Array, o: number, tp: TrackerParams, hp: HysteresisParams | null, score: number, degraded: boolean): number {
  const result = stepTracker(s, o, tp, score, degraded) ? 1 : 0
  if (hp === null) return result
  const tick = s[o + 5] as number
  // The filter (at o + 8) was driven by hand past the tracker's tick: leave it alone.
  if (!(tick >= (s[o + 12] as number))) return result | 8
  s[o + 12] = tick
  const ema = s[o + 3] as number
  // The numeric twin of modeForEma: 2 = FAB2 at >= 0.8, 1 = FAB1 at >= 0.5.
  return result | stepHysteresis(s, o + 8, hp, ema >= 0.8 ? 2 : ema >= 0.5 ? 1 : 0)
}
