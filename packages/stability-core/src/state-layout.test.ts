import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MODE_TO_NUMERIC, modeForEma } from './modes.js'
import {
  BLOCK_HYSTERESIS,
  BLOCK_STRIDE,
  H_DESIRED,
  H_DWELL,
  H_EFFECTIVE,
  H_LAST_SWITCH,
  H_LAST_TICK,
  H_OSC,
  H_SWITCHES,
  HYSTERESIS_SLOTS,
  T_COOLDOWN,
  T_COUNT,
  T_EMA,
  T_LAST,
  T_STABLE,
  T_TICKS,
  T_TOTAL,
  TRACKER_SLOTS,
  cooldownFor,
  initHysteresis,
  initTracker,
  stepHysteresis,
  stepTracker,
  stepWindow,
  trackerParams,
  type HysteresisParams,
} from './state.js'

/**
 * The step functions write slot numbers as literals (see state.ts): these
 * tests pin every literal to its named constant by running the steps next
 * to a model written with the constants only, on random states.
 */

const O = 3 // a non-zero offset, so a missing `o +` shows too

function modelTracker(s: Float64Array, o: number, p: ReturnType<typeof trackerParams>, score: number, degraded: boolean): boolean {
  const event = degraded || (s[o + T_LAST] as number) - score >= p.threshold
  s[o + T_LAST] = score
  s[o + T_TICKS] = (s[o + T_TICKS] as number) + 1
  let instant = 0
  if (event) {
    const count = (s[o + T_COUNT] as number) + 1
    s[o + T_STABLE] = 0
    s[o + T_COUNT] = count
    s[o + T_COOLDOWN] = cooldownFor(p, count)
    s[o + T_TOTAL] = (s[o + T_TOTAL] as number) + 1
  } else {
    let cooldown = s[o + T_COOLDOWN] as number
    if (cooldown > 0) s[o + T_COOLDOWN] = --cooldown
    if (cooldown === 0) {
      const stable = (s[o + T_STABLE] as number) + 1
      s[o + T_STABLE] = stable
      instant = Math.min(1, stable / p.minStableTicks)
    }
  }
  const ema = p.decay * (s[o + T_EMA] as number) + p.oneMinusDecay * instant
  s[o + T_EMA] = ema < 2.2250738585072014e-308 ? 0 : ema
  return event
}

function modelHysteresis(s: Float64Array, o: number, p: HysteresisParams, desired: number): number {
  s[o + H_DESIRED] = desired
  if (desired === s[o + H_EFFECTIVE]) {
    s[o + H_DWELL] = 0
    return 0
  }
  const dwell = (s[o + H_DWELL] as number) + 1
  s[o + H_DWELL] = dwell
  const needed = desired > (s[o + H_EFFECTIVE] as number) ? p.upgradeDwellTicks : p.downgradeDwellTicks
  if (dwell < needed) return 0
  const tick = s[o + H_LAST_TICK] as number
  const switches = s[o + H_SWITCHES] as number
  const previous = s[o + H_LAST_SWITCH] as number
  if (switches > 0 && tick - previous < p.rateLimitTicks) return 0
  s[o + H_EFFECTIVE] = desired
  s[o + H_DWELL] = 0
  s[o + H_LAST_SWITCH] = tick
  s[o + H_SWITCHES] = switches + 1
  if (p.detectOscillations && switches > 0 && tick - previous <= p.oscWindow) {
    s[o + H_OSC] = (s[o + H_OSC] as number) + 1
    return 6
  }
  return 2
}

const trackerConfig = fc.record({
  degradationThreshold: fc.double({ min: 0.01, max: 1, noNaN: true }),
  minStableTicks: fc.integer({ min: 1, max: 20 }),
  emaDecay: fc.double({ min: 0, max: 0.99, noNaN: true }),
  cooldownBase: fc.double({ min: 1, max: 3, noNaN: true }),
  cooldownMaxTicks: fc.integer({ min: 0, max: 30 }),
})
const hysteresisParams = fc.record({
  upgradeDwellTicks: fc.integer({ min: 0, max: 4 }),
  downgradeDwellTicks: fc.integer({ min: 0, max: 4 }),
  rateLimitTicks: fc.integer({ min: 0, max: 6 }),
  oscWindow: fc.integer({ min: 0, max: 10 }),
  detectOscillations: fc.boolean(),
})
const sample = fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean())

describe('state layout', () => {
  it('names distinct slots that fit their blocks', () => {
    const tracker = [T_STABLE, T_COUNT, T_COOLDOWN, T_EMA, T_LAST, T_TICKS, T_TOTAL]
    const filter = [H_EFFECTIVE, H_DESIRED, H_DWELL, H_LAST_SWITCH, H_LAST_TICK, H_SWITCHES, H_OSC]
    expect(tracker).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(filter).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect([TRACKER_SLOTS, HYSTERESIS_SLOTS, BLOCK_HYSTERESIS, BLOCK_STRIDE]).toEqual([7, 7, 8, 16])
    expect(BLOCK_HYSTERESIS).toBeGreaterThanOrEqual(TRACKER_SLOTS)
    expect(BLOCK_HYSTERESIS + HYSTERESIS_SLOTS).toBeLessThanOrEqual(BLOCK_STRIDE)
  })

  it('initialises the named slots', () => {
    const s = new Float64Array(O + BLOCK_STRIDE).fill(7)
    initTracker(s, O)
    expect([s[O + T_STABLE], s[O + T_COUNT], s[O + T_COOLDOWN], s[O + T_EMA], s[O + T_LAST]]).toEqual([0, 0, 0, 1, Number.NaN])
    initHysteresis(s, O + BLOCK_HYSTERESIS, 2)
    const h = O + BLOCK_HYSTERESIS
    expect([s[h + H_EFFECTIVE], s[h + H_DESIRED], s[h + H_DWELL], s[h + H_LAST_SWITCH], s[h + H_LAST_TICK], s[h + H_SWITCHES], s[h + H_OSC]]).toEqual([
      2,
      2,
      0,
      Number.NaN,
      -Infinity,
      0,
      0,
    ])
  })

  it('stepTracker and stepHysteresis touch exactly the slots the constants name (property)', () => {
    fc.assert(
      fc.property(trackerConfig, hysteresisParams, fc.array(fc.tuple(sample, fc.integer({ min: 0, max: 2 })), { maxLength: 200 }), (config, hp, steps) => {
        const tp = trackerParams(config)
        const a = new Float64Array(O + BLOCK_STRIDE + 2).fill(-1)
        const b = new Float64Array(O + BLOCK_STRIDE + 2).fill(-1)
        for (const s of [a, b]) {
          initTracker(s, O)
          s[O + T_TICKS] = 0
          s[O + T_TOTAL] = 0
          initHysteresis(s, O + BLOCK_HYSTERESIS, 2)
        }
        let tick = 0
        for (const [[score, degraded], desired] of steps) {
          expect(stepTracker(a, O, tp, score, degraded)).toBe(modelTracker(b, O, tp, score, degraded))
          tick++
          a[O + BLOCK_HYSTERESIS + 4] = tick
          b[O + BLOCK_HYSTERESIS + H_LAST_TICK] = tick
          expect(stepHysteresis(a, O + BLOCK_HYSTERESIS, hp, desired)).toBe(modelHysteresis(b, O + BLOCK_HYSTERESIS, hp, desired))
          expect(Array.from(a)).toEqual(Array.from(b))
        }
      }),
    )
  })

  it("stepWindow equals the tracker step, then the filter fed modeForEma at the tracker's tick (property)", () => {
    fc.assert(
      fc.property(trackerConfig, hysteresisParams, fc.array(sample, { maxLength: 200 }), (config, hp, steps) => {
        const tp = trackerParams(config)
        const a = new Float64Array(O + BLOCK_STRIDE + 2).fill(-1)
        const b = new Float64Array(O + BLOCK_STRIDE + 2).fill(-1)
        for (const s of [a, b]) {
          initTracker(s, O)
          s[O + T_TICKS] = 0
          s[O + T_TOTAL] = 0
          initHysteresis(s, O + BLOCK_HYSTERESIS, 2)
        }
        for (const [score, degraded] of steps) {
          const result = stepWindow(a, O, tp, hp, score, degraded)
          const event = modelTracker(b, O, tp, score, degraded)
          b[O + BLOCK_HYSTERESIS + H_LAST_TICK] = b[O + T_TICKS] as number
          const desired = MODE_TO_NUMERIC[modeForEma(b[O + T_EMA] as number)]
          const switched = modelHysteresis(b, O + BLOCK_HYSTERESIS, hp, desired)
          expect(result).toBe((event ? 1 : 0) | switched)
          expect(Array.from(a)).toEqual(Array.from(b))
        }
      }),
    )
  })

  it("stepWindow's desired mode is modeForEma at the thresholds and between them", () => {
    const hp: HysteresisParams = { upgradeDwellTicks: 1e12, downgradeDwellTicks: 1e12, rateLimitTicks: 0, oscWindow: 0, detectOscillations: false }
    const tp = trackerParams({ degradationThreshold: 1, minStableTicks: 1, emaDecay: 0, cooldownBase: 2, cooldownMaxTicks: 0 })
    const below = (x: number): number => x - Number.EPSILON
    for (const ema of [0, below(0.5), 0.5, 0.6, below(0.8), 0.8, 0.9, 1]) {
      const s = new Float64Array(BLOCK_STRIDE)
      initTracker(s, 0)
      initHysteresis(s, BLOCK_HYSTERESIS, 2)
      // A decay of 1 keeps the EMA where it is set, so the filter step sees exactly `ema`.
      s[T_EMA] = ema
      stepWindow(s, 0, { ...tp, decay: 1, oneMinusDecay: 0 }, hp, 1, false)
      expect(s[BLOCK_HYSTERESIS + H_DESIRED]).toBe(MODE_TO_NUMERIC[modeForEma(ema)])
    }
  })
})
