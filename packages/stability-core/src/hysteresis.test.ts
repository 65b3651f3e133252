import { describe, expect, it } from 'vitest'
import { HYSTERESIS_DEFAULTS, Hysteresis } from './hysteresis.js'
import type { FabMode } from './modes.js'
import { SnapshotError } from './snapshot-error.js'

describe('Hysteresis defaults', () => {
  it("uses the reference's defaults and a 60 s rate window", () => {
    const filter = new Hysteresis()
    expect(filter.config).toEqual({
      dwellTicks: 50,
      upgradeDwellTicks: null,
      downgradeDwellTicks: null,
      rateLimitTicks: 1000,
      oscWindow: 300,
      maxHistory: 5000,
      rateWindowMs: 60_000,
      initialMode: 'FAB2',
    })
    expect(filter.config).toEqual(HYSTERESIS_DEFAULTS)
  })

  it('starts in FAB2 with no switch', () => {
    expect(new Hysteresis().getMetrics()).toEqual({
      effectiveMode: 'FAB2',
      desiredMode: 'FAB2',
      dwellCounter: 0,
      lastSwitchTick: null,
      lastSwitchAge: null,
      switchCount: 0,
      oscCount: 0,
      switchRatePerSec: 0,
      oscillationRatePerSec: 0,
      invalidUpdates: 0,
      filteredMode: 'FAB2',
      pinned: null,
    })
  })

  it('can start in another mode', () => {
    const filter = new Hysteresis({ initialMode: 'FAB0' })
    expect(filter.effectiveMode).toBe('FAB0')
    expect(filter.desiredMode).toBe('FAB0')
  })
})

describe('Hysteresis.update', () => {
  it('switches once the desired mode differed for dwellTicks updates', () => {
    const filter = new Hysteresis({ dwellTicks: 3, rateLimitTicks: 0, clock: () => 0 })
    expect(filter.update('FAB1', 0)).toBe('FAB2')
    expect(filter.update('FAB1', 1)).toBe('FAB2')
    expect(filter.getMetrics().dwellCounter).toBe(2)
    expect(filter.update('FAB1', 2)).toBe('FAB1')
    expect(filter.getMetrics()).toMatchObject({ dwellCounter: 0, lastSwitchTick: 2, switchCount: 1 })
  })

  it('resets the dwell counter when the desired mode comes back', () => {
    const filter = new Hysteresis({ dwellTicks: 3, rateLimitTicks: 0, clock: () => 0 })
    filter.update('FAB1', 0)
    filter.update('FAB1', 1)
    filter.update('FAB2', 2)
    expect(filter.getMetrics().dwellCounter).toBe(0)
    filter.update('FAB1', 3)
    expect(filter.update('FAB1', 4)).toBe('FAB2')
  })

  it('counts dwell for any differing mode and switches to the latest one', () => {
    const filter = new Hysteresis({ dwellTicks: 2, rateLimitTicks: 0, clock: () => 0 })
    filter.update('FAB1', 0)
    expect(filter.update('FAB0', 1)).toBe('FAB0')
  })

  it('holds a switch until rateLimitTicks passed since the previous one', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 10, clock: () => 0 })
    expect(filter.update('FAB1', 0)).toBe('FAB1')
    expect(filter.update('FAB2', 5)).toBe('FAB1')
    expect(filter.update('FAB2', 9)).toBe('FAB1')
    expect(filter.getMetrics().dwellCounter).toBe(2)
    expect(filter.update('FAB2', 10)).toBe('FAB2')
  })

  it('reports the age of the last switch in ticks (the reference always said 0)', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    filter.update('FAB1', 4)
    filter.update('FAB1', 9)
    expect(filter.getMetrics()).toMatchObject({ lastSwitchTick: 4, lastSwitchAge: 5 })
  })

  it('counts a switch within oscWindow of the previous one as an oscillation', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, oscWindow: 10, clock: () => 0 })
    filter.update('FAB1', 0)
    filter.update('FAB2', 10)
    filter.update('FAB1', 21)
    expect(filter.getMetrics()).toMatchObject({ switchCount: 3, oscCount: 1 })
  })

  it('does not count oscillations with maxHistory 1', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, oscWindow: 10, maxHistory: 1, clock: () => 0 })
    filter.update('FAB1', 0)
    filter.update('FAB2', 1)
    expect(filter.getMetrics()).toMatchObject({ switchCount: 2, oscCount: 0 })
  })

  it('rates switches and oscillations per second over the trailing window', () => {
    let now = 0
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, oscWindow: 100, rateWindowMs: 10_000, clock: () => now })
    const modes: FabMode[] = ['FAB1', 'FAB2', 'FAB1', 'FAB2']
    for (const [i, mode] of modes.entries()) {
      now = i * 1000
      filter.update(mode, i)
    }
    expect(filter.getMetrics()).toMatchObject({ switchRatePerSec: 0.4, oscillationRatePerSec: 0.3 })
    now = 10_500
    expect(filter.getMetrics()).toMatchObject({ switchRatePerSec: 0.3, oscillationRatePerSec: 0.3 })
    now = 20_000
    expect(filter.getMetrics()).toMatchObject({ switchRatePerSec: 0, oscillationRatePerSec: 0, switchCount: 4, oscCount: 3 })
  })
})

describe('Hysteresis invalid updates', () => {
  const bad: [string, unknown, unknown][] = [
    ['an unknown mode', 'FAB9', 1],
    ['a lower-case mode', 'fab1', 1],
    ['a missing mode', undefined, 1],
    ['a NaN tick', 'FAB1', Number.NaN],
    ['an infinite tick', 'FAB1', Infinity],
    ['a string tick', 'FAB1', '5'],
    ['a tick that goes backwards', 'FAB1', 3],
  ]

  it.each(bad)('ignores and counts %s', (_label, mode, tick) => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    filter.update('FAB2', 4)
    expect(filter.update(mode as FabMode, tick as number)).toBe('FAB2')
    expect(filter.getMetrics()).toMatchObject({ invalidUpdates: 1, dwellCounter: 0, switchCount: 0, desiredMode: 'FAB2' })
  })

  it('accepts the same tick twice', () => {
    const filter = new Hysteresis({ dwellTicks: 2, clock: () => 0 })
    filter.update('FAB1', 4)
    filter.update('FAB1', 4)
    expect(filter.effectiveMode).toBe('FAB1')
  })

  it('throws a RangeError in strict mode', () => {
    const filter = new Hysteresis({ strict: true })
    expect(() => filter.update('FAB9' as FabMode, 0)).toThrow(new RangeError('Hysteresis.update: desired must be one of "FAB0", "FAB1", "FAB2"; got "FAB9" (string)'))
    expect(() => filter.update('FAB1', Number.NaN)).toThrow(/tick must be a finite number; got NaN/)
    filter.update('FAB2', 7)
    expect(() => filter.update('FAB1', 6)).toThrow(/tick must be a finite number not below the previous tick 7; got 6/)
    expect(filter.getMetrics().invalidUpdates).toBe(0)
  })
})

describe('Hysteresis options', () => {
  const cases: [string, unknown, RegExp][] = [
    ['dwellTicks', -1, /"dwellTicks" must be an integer in \[0, 1000000000000\]; got -1/],
    ['rateLimitTicks', 1.5, /"rateLimitTicks" must be an integer .*; got 1.5/],
    ['oscWindow', Number.NaN, /"oscWindow" .*; got NaN/],
    ['maxHistory', 0, /"maxHistory" must be an integer in \[1, 1000000\]; got 0/],
    ['rateWindowMs', 0, /"rateWindowMs" must be a number in \[1, 86400000\]; got 0/],
    // Below a millisecond, a large clock reading divided by the bucket width overflows to Infinity and rates never expire.
    ['rateWindowMs', 1e-300, /"rateWindowMs" must be a number in \[1, 86400000\]; got 1e-300/],
    ['initialMode', 'FAB3', /"initialMode" must be one of "FAB0", "FAB1", "FAB2"; got "FAB3" \(string\)/],
    ['clock', 'now', /"clock" must be a function/],
    ['strict', 1, /"strict" must be a boolean; got 1/],
  ]

  it.each(cases)('rejects %s = %s with a RangeError naming field, value and range', (field, value, message) => {
    expect(() => new Hysteresis({ [field]: value })).toThrow(RangeError)
    expect(() => new Hysteresis({ [field]: value })).toThrow(message)
  })

  it('rejects unknown options', () => {
    expect(() => new Hysteresis({ dwell: 3 } as never)).toThrow(/unknown option "dwell"/)
  })
})

describe('Hysteresis snapshots', () => {
  function busy(clock: () => number): Hysteresis {
    const filter = new Hysteresis({ dwellTicks: 2, rateLimitTicks: 3, oscWindow: 20, clock })
    const modes: FabMode[] = ['FAB1', 'FAB1', 'FAB2', 'FAB2', 'FAB2', 'FAB0', 'FAB0', 'FAB0', 'FAB1']
    for (const [i, mode] of modes.entries()) filter.update(mode, i * 2)
    return filter
  }

  it('round-trips through JSON text and continues identically', () => {
    let now = 1000
    const original = busy(() => now)
    const restored = Hysteresis.fromJSON(JSON.parse(JSON.stringify(original.toJSON())), { clock: () => now })
    expect(restored.getMetrics()).toEqual(original.getMetrics())
    const modes: FabMode[] = ['FAB1', 'FAB1', 'FAB1', 'FAB2', 'FAB0', 'FAB0', 'FAB0', 'FAB0']
    for (const [i, mode] of modes.entries()) {
      now += 100
      expect(restored.update(mode, 20 + i)).toBe(original.update(mode, 20 + i))
      expect(restored.getMetrics()).toEqual(original.getMetrics())
    }
  })

  const valid = (): Record<string, any> => JSON.parse(JSON.stringify(busy(() => 0).toJSON()))
  const tampered: [string, (s: Record<string, any>) => unknown, RegExp][] = [
    ['another format', (s) => ({ ...s, format: 'auris.stability-tracker' }), /format must be "auris.hysteresis"/],
    ['a future version', (s) => ({ ...s, version: 9 }), /version 9 is not supported/],
    ['a missing config key', (s) => ({ ...s, config: { ...s.config, dwellTicks: undefined } }), /config.dwellTicks is missing/],
    ['a bad config value', (s) => ({ ...s, config: { ...s.config, maxHistory: 0 } }), /"maxHistory" must be an integer/],
    ['an unknown mode', (s) => ({ ...s, state: { ...s.state, effectiveMode: 'FAB7' } }), /state.effectiveMode must be one of/],
    ['more oscillations than switches', (s) => ({ ...s, state: { ...s.state, oscCount: 99 } }), /state.oscCount must be an integer in \[0, 2\]/],
    ['a last switch but no switch count', (s) => ({ ...s, state: { ...s.state, switchCount: 0, oscCount: 0 } }), /null exactly when switchCount is 0/],
    ['a switch after the last tick', (s) => ({ ...s, state: { ...s.state, lastSwitchTick: 1000 } }), /later than the last tick/],
    ['dwell while desired equals effective', (s) => ({ ...s, state: { ...s.state, dwellCounter: 3, desiredMode: s.state.effectiveMode } }), /dwellCounter must be 0/],
    ['bad rate entries', (s) => ({ ...s, state: { ...s.state, switches: [[-1, 1]] } }), /state.switches\[0\]/],
    // Consistency: the rate windows hold only switches the counters hold.
    ['1e308 switches in the rate window', (s) => ({ ...s, state: { ...s.state, switches: [[1, 1e308]] } }), /state.switches holds 1e\+308 switches, more than switchCount \(3\)/],
    ['more timed oscillations than oscCount', (s) => ({ ...s, state: { ...s.state, oscillations: [[1, 3]] } }), /state.oscillations holds 3 oscillations, more than oscCount/],
    ['a switch older than the rate window', (s) => ({ ...s, state: { ...s.state, switches: [[60_001, 1]] } }), /state.switches holds an entry older than rateWindowMs/],
    ['updates before any tick', (s) => ({ ...s, state: { ...s.state, lastTick: null, lastSwitchTick: null, switchCount: 0, oscCount: 0, switches: [], oscillations: [], dwellCounter: 1, desiredMode: 'FAB0', effectiveMode: 'FAB2' } }), /state.lastTick is null/],
    ['an infinite tick', (s) => ({ ...s, state: { ...s.state, lastTick: Number.POSITIVE_INFINITY } }), /state.lastTick must be a finite number/],
  ]

  it('accepts and restores every tick update() accepts, a nanosecond clock included', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    const ns = 1.7e18
    expect(filter.update('FAB1', ns)).toBe('FAB1')
    filter.update('FAB1', ns * 2)
    const restored = Hysteresis.fromJSON(JSON.parse(JSON.stringify(filter.toJSON())), { clock: () => 0 })
    expect(restored.getMetrics()).toEqual(filter.getMetrics())
    expect(restored.getMetrics().lastSwitchTick).toBe(ns)
    const negative = new Hysteresis({ clock: () => 0 })
    negative.update('FAB2', -Number.MAX_VALUE)
    expect(Hysteresis.fromJSON(negative.toJSON()).getMetrics()).toEqual(negative.getMetrics())
  })

  it.each(tampered)('refuses a snapshot with %s', (_label, mutate, message) => {
    const bad = mutate(valid())
    expect(() => Hysteresis.fromJSON(bad)).toThrow(SnapshotError)
    expect(() => Hysteresis.fromJSON(bad)).toThrow(message)
  })

  it('restores a fresh filter', () => {
    const restored = Hysteresis.fromJSON(new Hysteresis().toJSON())
    expect(restored.getMetrics()).toEqual(new Hysteresis().getMetrics())
  })
})
