import { describe, expect, it } from 'vitest'
import { SnapshotError } from './snapshot-error.js'
import { HOUR_MS, StabilityTracker, TRACKER_DEFAULTS } from './tracker.js'

function manualClock(start = 0): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start
  return {
    now: () => t,
    set: (v) => {
      t = v
    },
    advance: (ms) => {
      t += ms
    },
  }
}

describe('StabilityTracker defaults', () => {
  it("uses the reference's defaults", () => {
    const tracker = new StabilityTracker()
    expect(tracker.config).toEqual({
      minStableTicks: 100,
      emaDecay: 0.95,
      cooldownBase: 2,
      cooldownMaxTicks: 10_000,
      degradationThreshold: 0.1,
    })
    expect(tracker.config).toEqual(TRACKER_DEFAULTS)
    expect(tracker.strict).toBe(false)
  })

  it('starts with EMA 1, no event, FAB2, not stable', () => {
    const m = new StabilityTracker().getMetrics()
    expect(m).toEqual({
      stabilityScore: 0,
      stabilityScoreEma: 1,
      degradationEventsPerHour: 0,
      isInCooldown: false,
      cooldownRemaining: 0,
      degradationCount: 0,
      totalDegradations: 0,
      stableTicks: 0,
      recommendedMode: 'FAB2',
      isStable: false,
      ticks: 0,
      invalidSamples: 0,
      clampedSamples: 0,
    })
  })
})

describe('StabilityTracker.tick', () => {
  it('counts a drop of exactly the threshold as a degradation', () => {
    const tracker = new StabilityTracker({ degradationThreshold: 0.25, clock: () => 0 })
    tracker.tick(0.5)
    tracker.tick(0.25)
    expect(tracker.degradationCount).toBe(1)
  })

  it('does not count a drop just under the threshold', () => {
    const tracker = new StabilityTracker({ degradationThreshold: 0.25, clock: () => 0 })
    tracker.tick(0.5)
    tracker.tick(0.5 - 0.25 + 2 ** -20)
    expect(tracker.degradationCount).toBe(0)
  })

  it('never counts the first sample as a drop', () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    tracker.tick(0)
    expect(tracker.degradationCount).toBe(0)
    expect(tracker.stableTicks).toBe(1)
  })

  it('starts a cool-down of trunc(base ** n) ticks after the n-th event', () => {
    const tracker = new StabilityTracker({ cooldownBase: 1.5, cooldownMaxTicks: 1000, clock: () => 0 })
    const lengths: number[] = []
    for (let n = 1; n <= 6; n++) {
      tracker.tick(0.5, true)
      lengths.push(tracker.cooldownRemaining)
      while (tracker.cooldownRemaining > 0) tracker.tick(0.5)
    }
    expect(lengths).toEqual([1, 2, 3, 5, 7, 11])
  })

  it('scores 0 during a cool-down and stableTicks / minStableTicks after it', () => {
    const tracker = new StabilityTracker({ minStableTicks: 4, clock: () => 0 })
    tracker.tick(0.9, true)
    expect(tracker.getMetrics()).toMatchObject({ isInCooldown: true, cooldownRemaining: 2, stabilityScore: 0, stableTicks: 0 })
    tracker.tick(0.9)
    expect(tracker.getMetrics()).toMatchObject({ cooldownRemaining: 1, stabilityScore: 0, stableTicks: 0 })
    tracker.tick(0.9)
    expect(tracker.getMetrics()).toMatchObject({ isInCooldown: false, stabilityScore: 0.25, stableTicks: 1 })
    expect(tracker.stabilityScore()).toBe(0.25)
    for (let i = 0; i < 5; i++) tracker.tick(0.9)
    expect(tracker.getMetrics()).toMatchObject({ stabilityScore: 1, stableTicks: 6, isStable: true })
    expect(tracker.isStable()).toBe(true)
  })

  it('updates the EMA as decay * ema + (1 - decay) * score', () => {
    const tracker = new StabilityTracker({ minStableTicks: 2, emaDecay: 0.5, clock: () => 0 })
    tracker.tick(0.9)
    expect(tracker.stabilityScoreEma()).toBe(0.5 * 1 + 0.5 * 0.5)
    tracker.tick(0.9)
    expect(tracker.stabilityScoreEma()).toBe(0.5 * 0.75 + 0.5 * 1)
  })

  it('recommends the mode from the EMA alone', () => {
    const tracker = new StabilityTracker({ minStableTicks: 1, emaDecay: 0, cooldownMaxTicks: 0, clock: () => 0 })
    tracker.tick(0.9)
    expect(tracker.recommendMode()).toBe('FAB2')
    // emaDecay 0 makes the EMA the instantaneous score; cooldownMaxTicks 0 leaves the score at 0 only via stable ticks.
    tracker.tick(0.9, true)
    expect(tracker.stabilityScoreEma()).toBe(0)
    expect(tracker.recommendMode()).toBe('FAB0')
  })
})

describe('StabilityTracker invalid samples', () => {
  const invalid: [string, unknown][] = [
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['"0.9"', '0.9'],
    ['null', null],
    ['undefined', undefined],
    ['{}', {}],
    ['[]', []],
    ['true', true],
    ['1n', 1n],
    ['a symbol', Symbol('x')],
  ]

  it.each(invalid)(
    'ignores and counts a score of %s',
    (_label, value) => {
      const tracker = new StabilityTracker({ clock: () => 0 })
      tracker.tick(0.9)
      const before = tracker.toJSON()
      tracker.tick(value as number)
      expect(tracker.invalidSamples).toBe(1)
      expect(tracker.ticks).toBe(1)
      const after = tracker.toJSON()
      expect({ ...after.state, invalidSamples: 0 }).toEqual({ ...before.state, invalidSamples: 0 })
    },
  )

  it('ignores and counts a degraded flag that is not a boolean', () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    tracker.tick(0.9, 'yes' as unknown as boolean)
    tracker.tick(0.9, 1 as unknown as boolean)
    expect(tracker.invalidSamples).toBe(2)
    expect(tracker.ticks).toBe(0)
  })

  it('clamps and counts a finite score outside [0, 1]', () => {
    const tracker = new StabilityTracker({ degradationThreshold: 0.5, clock: () => 0 })
    tracker.tick(7)
    tracker.tick(-3)
    expect(tracker.clampedSamples).toBe(2)
    expect(tracker.ticks).toBe(2)
    // 1 -> 0 is a drop of 1, so the clamped values were used.
    expect(tracker.degradationCount).toBe(1)
  })

  it('accepts -0 as 0 without counting it', () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    tracker.tick(-0)
    expect(tracker.clampedSamples + tracker.invalidSamples).toBe(0)
    expect(tracker.ticks).toBe(1)
  })

  it('throws a RangeError in strict mode instead', () => {
    const tracker = new StabilityTracker({ strict: true, clock: () => 0 })
    expect(() => {
      tracker.tick(Number.NaN)
    }).toThrow(new RangeError('StabilityTracker.tick: score must be a finite number in [0, 1]; got NaN'))
    expect(() => {
      tracker.tick(1.5)
    }).toThrow(/score must be a finite number in \[0, 1\]; got 1.5/)
    expect(() => {
      tracker.tick(0.5, 'no' as unknown as boolean)
    }).toThrow(/degraded must be a boolean; got "no" \(string\)/)
    expect(tracker.ticks).toBe(0)
    expect(tracker.invalidSamples).toBe(0)
  })
})

describe('StabilityTracker long runs', () => {
  it('saturates the cool-down at cooldownMaxTicks and stays finite over 10^7 events', () => {
    const tracker = new StabilityTracker({ cooldownMaxTicks: 500, clock: () => 0 })
    for (let i = 0; i < 10_000_000; i++) tracker.tick(0.5, true)
    const m = tracker.getMetrics()
    expect(m.degradationCount).toBe(10_000_000)
    expect(m.cooldownRemaining).toBe(500)
    for (const value of Object.values(m)) if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true)
    expect(m.stabilityScoreEma).toBeGreaterThanOrEqual(0)
  })

  it('goes past the point where base ** count overflows a double', () => {
    // 2 ** 1024 is Infinity; the reference raises there.
    const tracker = new StabilityTracker({ cooldownMaxTicks: 1_000_000_000, clock: () => 0 })
    for (let i = 0; i < 1100; i++) tracker.tick(0.5, true)
    expect(tracker.cooldownRemaining).toBe(1_000_000_000)
  })
})

describe('StabilityTracker degradationEventsPerHour', () => {
  it('counts events of the last 3600 s, an event exactly 3600 s old included, in one-minute buckets', () => {
    const clock = manualClock(10_000)
    const tracker = new StabilityTracker({ clock: clock.now })
    tracker.tick(0.5, true)
    clock.advance(1000)
    tracker.tick(0.5, true)
    clock.set(10_000 + HOUR_MS)
    expect(tracker.degradationEventsPerHour()).toBe(2)
    // Exact: 1. Both events share the first one-minute bucket, which is counted whole until it leaves the hour.
    clock.advance(1)
    expect(tracker.getMetrics().degradationEventsPerHour).toBe(2)
    clock.set(60_000 + HOUR_MS - 1)
    expect(tracker.degradationEventsPerHour()).toBe(2)
    clock.set(60_000 + HOUR_MS)
    expect(tracker.degradationEventsPerHour()).toBe(0)
    expect(tracker.degradationCount).toBe(2)
  })

  it('reports 10 events/s over 2 h within one bucket of the exact 36,001 (earlier versions: 72,000)', () => {
    const clock = manualClock(0)
    const tracker = new StabilityTracker({ clock: clock.now })
    for (let t = 0; t < 2 * HOUR_MS; t += 100) {
      clock.set(t)
      tracker.tick(0.5, true)
    }
    // Last event at 7,199,900 ms: the exact count over [3,599,900, 7,199,900] is 36,001. The oldest
    // bucket read (3,540,000..3,600,000) adds its 599 events older than the hour; one bucket holds 600.
    const exact = 36_001
    const figure = tracker.degradationEventsPerHour()
    expect(figure).toBe(36_600)
    expect(figure - exact).toBeLessThanOrEqual(600)
    expect(tracker.degradationCount).toBe(72_000)
  })

  it('counts events at the same instant', () => {
    const tracker = new StabilityTracker({ clock: () => 42 })
    for (let i = 0; i < 10; i++) tracker.tick(0.5, true)
    expect(tracker.degradationEventsPerHour()).toBe(10)
  })
})

describe('StabilityTracker.shouldDegrade', () => {
  it('is true below the threshold or during a cool-down', () => {
    const tracker = new StabilityTracker({ minStableTicks: 1, emaDecay: 0, clock: () => 0 })
    tracker.tick(0.9)
    expect(tracker.shouldDegrade()).toBe(false)
    tracker.tick(0.9, true)
    expect(tracker.shouldDegrade()).toBe(true)
    expect(tracker.shouldDegrade(0)).toBe(true)
  })

  it('rejects a threshold outside [0, 1]', () => {
    expect(() => new StabilityTracker().shouldDegrade(2)).toThrow(RangeError)
    expect(() => new StabilityTracker().shouldDegrade(Number.NaN)).toThrow(/threshold must be a number in \[0, 1\]; got NaN/)
  })
})

describe('StabilityTracker.reset', () => {
  it('starts a new session and keeps life-time counters', () => {
    const clock = manualClock(0)
    const tracker = new StabilityTracker({ clock: clock.now })
    tracker.tick(0.9)
    tracker.tick(0.2, true)
    tracker.tick(Number.NaN)
    tracker.tick(2)
    tracker.reset()
    const m = tracker.getMetrics()
    expect(m).toMatchObject({
      stableTicks: 0,
      degradationCount: 0,
      cooldownRemaining: 0,
      stabilityScoreEma: 1,
      degradationEventsPerHour: 0,
      totalDegradations: 1,
      ticks: 3,
      invalidSamples: 1,
      clampedSamples: 1,
    })
    // The first sample after a reset is not compared with the last one before it.
    tracker.tick(0)
    expect(tracker.degradationCount).toBe(0)
    // And the cool-down exponent restarts.
    tracker.tick(0, true)
    expect(tracker.cooldownRemaining).toBe(2)
    expect(tracker.totalDegradations).toBe(2)
  })
})

describe('StabilityTracker options', () => {
  const cases: [string, unknown, RegExp][] = [
    ['minStableTicks', 0, /"minStableTicks" must be an integer in \[1, 1000000000\]; got 0/],
    ['minStableTicks', 2.5, /"minStableTicks" must be an integer in \[1, 1000000000\]; got 2.5/],
    ['minStableTicks', '100', /"minStableTicks" must be an integer .*; got "100" \(string\)/],
    ['emaDecay', 1, /"emaDecay" must be a number in \[0, 1\); got 1/],
    ['emaDecay', -0.1, /"emaDecay" must be a number in \[0, 1\); got -0.1/],
    ['emaDecay', Number.NaN, /"emaDecay" .*; got NaN/],
    ['cooldownBase', 0.5, /"cooldownBase" must be a number in \[1, 1000000\]; got 0.5/],
    ['cooldownBase', Infinity, /"cooldownBase" .*; got Infinity/],
    ['cooldownMaxTicks', -1, /"cooldownMaxTicks" must be an integer in \[0, 1000000000\]; got -1/],
    ['degradationThreshold', 0, /"degradationThreshold" must be a number in \(0, 1\]; got 0/],
    ['degradationThreshold', null, /"degradationThreshold" .*; got null/],
    ['clock', 5, /"clock" must be a function; got 5/],
    ['strict', 'yes', /"strict" must be a boolean; got "yes" \(string\)/],
  ]

  it.each(cases)('rejects %s = %s with a RangeError naming field, value and range', (field, value, message) => {
    expect(() => new StabilityTracker({ [field]: value })).toThrow(RangeError)
    expect(() => new StabilityTracker({ [field]: value })).toThrow(message)
  })

  it('rejects an unknown option rather than ignoring it', () => {
    expect(() => new StabilityTracker({ decay: 0.9 } as never)).toThrow(/unknown option "decay"; known options: minStableTicks, emaDecay/)
  })

  it('rejects options that are not an object', () => {
    expect(() => new StabilityTracker(5 as never)).toThrow(/options must be an object; got 5/)
    expect(() => new StabilityTracker([] as never)).toThrow(/got an array/)
  })

  it('accepts the bounds of every range', () => {
    expect(() => new StabilityTracker({ minStableTicks: 1, emaDecay: 0, cooldownBase: 1, cooldownMaxTicks: 0, degradationThreshold: 1 })).not.toThrow()
    expect(() => new StabilityTracker({ minStableTicks: 1e9, emaDecay: 0.999999, cooldownBase: 1e6, cooldownMaxTicks: 1e9 })).not.toThrow()
  })
})

describe('StabilityTracker snapshots', () => {
  it('round-trips through JSON text', () => {
    const clock = manualClock(5000)
    const tracker = new StabilityTracker({ minStableTicks: 10, clock: clock.now })
    for (let i = 0; i < 50; i++) {
      tracker.tick(i % 7 === 0 ? 0.3 : 0.9, i % 13 === 0)
      clock.advance(250)
    }
    tracker.tick(Number.NaN)
    const snapshot = tracker.toJSON()
    expect(snapshot.format).toBe('auris.stability-tracker')
    expect(snapshot.version).toBe(1)
    const restored = StabilityTracker.fromJSON(JSON.parse(JSON.stringify(snapshot)), { clock: clock.now })
    expect(restored.getMetrics()).toEqual(tracker.getMetrics())
    expect(restored.toJSON()).toEqual(snapshot)
  })

  it('re-bases event ages on the new clock', () => {
    const a = manualClock(1_000_000)
    const tracker = new StabilityTracker({ clock: a.now })
    tracker.tick(0.5, true)
    a.advance(HOUR_MS - 1000)
    const snapshot = tracker.toJSON()
    // Another process: its clock starts near zero.
    const b = manualClock(7)
    const restored = StabilityTracker.fromJSON(snapshot, { clock: b.now })
    expect(restored.degradationEventsPerHour()).toBe(1)
    // The event's age (3,609,000 ms from its bucket's middle) is capped at the hour; re-bucketed on the new clock's grid it expires at 60,000.
    b.set(59_999)
    expect(restored.degradationEventsPerHour()).toBe(1)
    b.set(60_000)
    expect(restored.degradationEventsPerHour()).toBe(0)
  })

  it('keeps a snapshot of a fresh tracker usable', () => {
    const restored = StabilityTracker.fromJSON(new StabilityTracker().toJSON())
    expect(restored.getMetrics()).toEqual(new StabilityTracker().getMetrics())
  })

  const valid = (): Record<string, any> => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    tracker.tick(0.9)
    tracker.tick(0.1, true)
    return JSON.parse(JSON.stringify(tracker.toJSON()))
  }

  const tampered: [string, (s: Record<string, any>) => unknown, RegExp][] = [
    ['not an object', () => 'hello', /Invalid StabilityTracker snapshot: must be an object/],
    ['null', () => null, /must be an object/],
    ['another format', (s) => ({ ...s, format: 'auris.hysteresis' }), /format must be "auris.stability-tracker"/],
    ['a future version', (s) => ({ ...s, version: 2 }), /version 2 is not supported/],
    ['no config', (s) => ({ ...s, config: undefined }), /config must be an object/],
    ['a config with a missing key', (s) => ({ ...s, config: { ...s.config, emaDecay: undefined } }), /config.emaDecay is missing/],
    ['an out-of-range config', (s) => ({ ...s, config: { ...s.config, emaDecay: 3 } }), /config .*"emaDecay" must be a number in \[0, 1\)/],
    ['an unknown config key', (s) => ({ ...s, config: { ...s.config, clock: 1 } }), /unknown option "clock"/],
    ['an EMA above 1', (s) => ({ ...s, state: { ...s.state, ema: 1.5 } }), /state.ema must be a finite number in \[0, 1\]/],
    ['a NaN EMA (null in JSON)', (s) => ({ ...s, state: { ...s.state, ema: null } }), /state.ema must be a finite number/],
    ['fractional stable ticks', (s) => ({ ...s, state: { ...s.state, stableTicks: 1.5 } }), /state.stableTicks must be an integer/],
    ['a cool-down above the cap', (s) => ({ ...s, state: { ...s.state, cooldownRemaining: 10_001 } }), /state.cooldownRemaining/],
    ['a total below the count', (s) => ({ ...s, state: { ...s.state, totalDegradations: 0 } }), /state.degradationCount must be an integer in \[0, 0\]/],
    ['stable ticks during a cool-down', (s) => ({ ...s, state: { ...s.state, stableTicks: 1 } }), /state.stableTicks must be 0 during a cool-down/],
    ['a cool-down without events', (s) => ({ ...s, state: { ...s.state, degradationCount: 0, events: [] } }), /state.cooldownRemaining must be an integer in \[0, 0\]/],
    ['events that are not pairs', (s) => ({ ...s, state: { ...s.state, events: [[1]] } }), /state.events\[0\] must be an \[ageMs, count\] pair/],
    ['events not oldest first', (s) => ({ ...s, state: { ...s.state, events: [[1, 1], [5, 1]] } }), /oldest first/],
    ['a fractional event count', (s) => ({ ...s, state: { ...s.state, events: [[1, 0.5]] } }), /integer count >= 1/],
    ['an event older than an hour', (s) => ({ ...s, state: { ...s.state, events: [[HOUR_MS + 1, 1]] } }), /older than one hour/],
    ['events as an object', (s) => ({ ...s, state: { ...s.state, events: {} } }), /state.events must be an array/],
    // Consistency, not only types and ranges: each of these states is one no run produces.
    ['events adding up to Infinity', (s) => ({ ...s, state: { ...s.state, events: [[10, 1e308], [5, 1e308]] } }), /state.events holds Infinity events, more than degradationCount \(1\)/],
    ['more events in the hour than degradationCount', (s) => ({ ...s, state: { ...s.state, events: [[10, 1], [5, 1]] } }), /state.events holds 2 events, more than degradationCount \(1\)/],
    ['more stable ticks than ticks', (s) => ({ ...s, state: { ...s.state, stableTicks: 3, cooldownRemaining: 0 } }), /state.stableTicks must be an integer in \[0, 2\]/],
    ['9e15 degradations after 2 ticks', (s) => ({ ...s, state: { ...s.state, totalDegradations: 9e15 } }), /state.totalDegradations must be an integer in \[0, 2\]/],
    ['a cool-down longer than the last event started', (s) => ({ ...s, state: { ...s.state, cooldownRemaining: 3 } }), /state.cooldownRemaining must be an integer in \[0, 2\]/],
    ['a last score before any tick', (s) => ({ ...s, state: { ...s.state, ticks: 0, degradationCount: 0, totalDegradations: 0, cooldownRemaining: 0, events: [] } }), /state.lastScore must be null before the first tick/],
    ['a last score of 2', (s) => ({ ...s, state: { ...s.state, lastScore: 2 } }), /state.lastScore/],
  ]

  it.each(tampered)('refuses a snapshot with %s', (_label, mutate, message) => {
    const bad = mutate(valid())
    expect(() => StabilityTracker.fromJSON(bad)).toThrow(SnapshotError)
    expect(() => StabilityTracker.fromJSON(bad)).toThrow(message)
  })

  it('names the faulty path on the error', () => {
    try {
      StabilityTracker.fromJSON({ ...valid(), state: { ...valid().state, ticks: -1 } })
      expect.fail('should have thrown')
    } catch (error) {
      expect(error).toBeInstanceOf(SnapshotError)
      expect((error as SnapshotError).path).toBe('state.ticks')
      expect((error as SnapshotError).name).toBe('SnapshotError')
    }
  })
})
