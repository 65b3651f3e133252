import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import { modeForEma, type FabMode } from './modes.js'
import { StabilityTracker, type StabilityTrackerOptions } from './tracker.js'

/** Any value a caller could pass as a score, valid or not. */
const anyScore = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, -1e308, 1.0000001) },
  { weight: 1, arbitrary: fc.anything() },
)
const anyDegraded = fc.oneof({ weight: 8, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.anything() })
const step = fc.record({ score: anyScore, degraded: anyDegraded, gapMs: fc.integer({ min: 0, max: 600_000 }) })

const config = fc.record(
  {
    minStableTicks: fc.integer({ min: 1, max: 200 }),
    emaDecay: fc.double({ min: 0, max: 0.999, noNaN: true }),
    cooldownBase: fc.double({ min: 1, max: 4, noNaN: true }),
    cooldownMaxTicks: fc.integer({ min: 0, max: 50 }),
    degradationThreshold: fc.double({ min: 0.01, max: 1, noNaN: true }),
  },
  { requiredKeys: [] },
)

function drive(tracker: StabilityTracker, steps: readonly { score: unknown; degraded: unknown; gapMs: number }[], clock: { t: number }): void {
  for (const s of steps) {
    clock.t += s.gapMs
    tracker.tick(s.score as number, s.degraded as boolean)
  }
}

describe('StabilityTracker invariants (property)', () => {
  it('keeps EMA and score in [0, 1], every figure finite, counts non-decreasing', () => {
    fc.assert(
      fc.property(config, fc.array(step, { maxLength: 300 }), (options, steps) => {
        const clock = { t: 0 }
        const tracker = new StabilityTracker({ ...(options as StabilityTrackerOptions), clock: () => clock.t })
        let previous = tracker.getMetrics()
        for (const s of steps) {
          clock.t += s.gapMs
          tracker.tick(s.score as number, s.degraded as boolean)
          const m = tracker.getMetrics()
          expect(m.stabilityScoreEma).toBeGreaterThanOrEqual(0)
          expect(m.stabilityScoreEma).toBeLessThanOrEqual(1)
          expect(m.stabilityScore).toBeGreaterThanOrEqual(0)
          expect(m.stabilityScore).toBeLessThanOrEqual(1)
          for (const value of Object.values(m)) if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true)
          expect(m.degradationCount).toBeGreaterThanOrEqual(previous.degradationCount)
          expect(m.totalDegradations).toBeGreaterThanOrEqual(previous.totalDegradations)
          expect(m.ticks + m.invalidSamples).toBe(previous.ticks + previous.invalidSamples + 1)
          expect(m.clampedSamples).toBeGreaterThanOrEqual(previous.clampedSamples)
          expect(m.degradationEventsPerHour).toBeLessThanOrEqual(m.degradationCount)
          expect(m.cooldownRemaining).toBeLessThanOrEqual(tracker.config.cooldownMaxTicks)
          previous = m
        }
      }),
    )
  })

  it('recommends a mode that is a pure function of the EMA, and isStable matches its definition', () => {
    fc.assert(
      fc.property(config, fc.array(step, { maxLength: 200 }), (options, steps) => {
        const clock = { t: 0 }
        const tracker = new StabilityTracker({ ...(options as StabilityTrackerOptions), clock: () => clock.t })
        for (const s of steps) {
          clock.t += s.gapMs
          tracker.tick(s.score as number, s.degraded as boolean)
          const m = tracker.getMetrics()
          expect(m.recommendedMode).toBe(modeForEma(m.stabilityScoreEma))
          expect(tracker.recommendMode()).toBe(m.recommendedMode)
          expect(m.isStable).toBe(m.stableTicks >= tracker.config.minStableTicks && !m.isInCooldown)
          expect(tracker.isStable()).toBe(m.isStable)
          expect(m.isInCooldown).toBe(m.cooldownRemaining > 0)
        }
      }),
    )
  })

  it('snapshot, restore, continue equals continue', () => {
    fc.assert(
      fc.property(config, fc.array(step, { maxLength: 150 }), fc.array(step, { maxLength: 150 }), (options, before, after) => {
        const clock = { t: 1_000_000 }
        const original = new StabilityTracker({ ...(options as StabilityTrackerOptions), clock: () => clock.t })
        drive(original, before, clock)
        const restored = StabilityTracker.fromJSON(JSON.parse(JSON.stringify(original.toJSON())), { clock: () => clock.t })
        for (const s of after) {
          clock.t += s.gapMs
          original.tick(s.score as number, s.degraded as boolean)
          restored.tick(s.score as number, s.degraded as boolean)
          expect(restored.getMetrics()).toEqual(original.getMetrics())
        }
      }),
    )
  })

  it('agrees with a line-by-line model of the reference on valid samples', () => {
    fc.assert(
      fc.property(
        config,
        fc.array(fc.record({ score: fc.double({ min: 0, max: 1, noNaN: true }), degraded: fc.boolean(), gapMs: fc.integer({ min: 0, max: 900_000 }) }), { maxLength: 300 }),
        (options, steps) => {
          const clock = { t: 0 }
          const tracker = new StabilityTracker({ ...(options as StabilityTrackerOptions), clock: () => clock.t })
          const model = new ReferenceModel({ ...tracker.config })
          for (const s of steps) {
            clock.t += s.gapMs
            tracker.tick(s.score, s.degraded)
            model.tick(s.score, s.degraded, clock.t)
            const m = tracker.getMetrics()
            expect([m.stableTicks, m.degradationCount, m.cooldownRemaining, m.stabilityScore]).toEqual([model.stable, model.count, model.cooldown, model.score])
            // Within the conformance tolerance: the tracker flushes subnormal EMAs to 0.
            expect(Math.abs(m.stabilityScoreEma - model.ema)).toBeLessThanOrEqual(1e-12)
            // Bucketed: never below the exact count, above it by at most the events of the oldest bucket read.
            const exact = model.eventsPerHour(clock.t)
            expect(m.degradationEventsPerHour).toBeGreaterThanOrEqual(exact)
            expect(m.degradationEventsPerHour - exact).toBeLessThanOrEqual(model.oldestBucket(clock.t))
          }
        },
      ),
    )
  })
})

/** The reference's algorithm written the obvious way: the oracle for the property above. */
class ReferenceModel {
  stable = 0
  count = 0
  cooldown = 0
  ema = 1
  score = 0
  last: number | null = null
  events: number[] = []

  constructor(private readonly c: { minStableTicks: number; emaDecay: number; cooldownBase: number; cooldownMaxTicks: number; degradationThreshold: number }) {}

  tick(score: number, degraded: boolean, now: number): void {
    const event = degraded || (this.last !== null && this.last - score >= this.c.degradationThreshold)
    this.last = score
    if (this.cooldown > 0) this.cooldown -= 1
    if (event) {
      this.stable = 0
      this.count += 1
      this.cooldown = Math.min(Math.trunc(this.c.cooldownBase ** this.count), this.c.cooldownMaxTicks)
      this.events.push(now)
    } else if (this.cooldown === 0) {
      this.stable += 1
    }
    this.score = this.cooldown > 0 ? 0 : Math.min(1, this.stable / this.c.minStableTicks)
    this.ema = this.c.emaDecay * this.ema + (1 - this.c.emaDecay) * this.score
  }

  eventsPerHour(now: number): number {
    return this.events.filter((t) => now - t <= 3_600_000).length
  }

  /** Events in the oldest one-minute bucket a read at `now` covers. */
  oldestBucket(now: number): number {
    const oldest = Math.floor(now / 60_000) - 60
    return this.events.filter((t) => Math.floor(t / 60_000) === oldest).length
  }
}

describe('Hysteresis invariants (property)', () => {
  const modes = fc.constantFrom<FabMode>('FAB0', 'FAB1', 'FAB2')
  const hysteresisConfig = fc.record({
    dwellTicks: fc.integer({ min: 0, max: 20 }),
    rateLimitTicks: fc.integer({ min: 0, max: 50 }),
    oscWindow: fc.integer({ min: 0, max: 100 }),
    maxHistory: fc.integer({ min: 1, max: 10 }),
  })
  const updates = fc.array(fc.tuple(modes, fc.integer({ min: 0, max: 5 })), { maxLength: 300 })

  it('never switches faster than the rate limit, never before the dwell, counts consistently', () => {
    fc.assert(
      fc.property(hysteresisConfig, updates, (options, steps) => {
        const filter = new Hysteresis({ ...options, clock: () => 0 })
        let tick = 0
        let lastSwitch: number | null = null
        let streak = 0
        for (const [desired, gap] of steps) {
          tick += gap
          const before = filter.effectiveMode
          streak = desired === before ? 0 : streak + 1
          const after = filter.update(desired, tick)
          const m = filter.getMetrics()
          if (after !== before) {
            expect(after).toBe(desired)
            expect(streak).toBeGreaterThanOrEqual(options.dwellTicks)
            if (lastSwitch !== null) expect(tick - lastSwitch).toBeGreaterThanOrEqual(options.rateLimitTicks)
            lastSwitch = tick
            streak = 0
          }
          expect(m.lastSwitchTick).toBe(lastSwitch)
          expect(m.lastSwitchAge).toBe(lastSwitch === null ? null : tick - lastSwitch)
          expect(m.oscCount).toBeLessThanOrEqual(Math.max(0, m.switchCount - 1))
          expect(m.dwellCounter).toBe(streak)
        }
      }),
    )
  })

  it('snapshot, restore, continue equals continue', () => {
    fc.assert(
      fc.property(hysteresisConfig, updates, updates, (options, before, after) => {
        let now = 0
        const original = new Hysteresis({ ...options, clock: () => now })
        let tick = 0
        for (const [desired, gap] of before) {
          tick += gap
          now += 7
          original.update(desired, tick)
        }
        const restored = Hysteresis.fromJSON(JSON.parse(JSON.stringify(original.toJSON())), { clock: () => now })
        for (const [desired, gap] of after) {
          tick += gap
          now += 7
          expect(restored.update(desired, tick)).toBe(original.update(desired, tick))
          expect(restored.getMetrics()).toEqual(original.getMetrics())
        }
      }),
    )
  })
})
