import { describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import type { TransitionEvent } from './transitions.js'
import { StabilityWindows } from './windows.js'

describe('Hysteresis.pin', () => {
  it('forces the mode for forMs of the injected clock, then ends by itself', () => {
    let now = 1000
    const filter = new Hysteresis({ clock: () => now })
    const events: TransitionEvent[] = []
    filter.onTransition((e) => events.push(e))
    filter.pin('FAB0', { forMs: 5000 })
    expect(filter.pinned).toEqual({ mode: 'FAB0', untilMs: 6000, remainingMs: 5000 })
    expect(filter.effectiveMode).toBe('FAB0')
    expect(filter.update('FAB2', 1)).toBe('FAB0')
    now = 5999
    expect(filter.getMetrics()).toMatchObject({ effectiveMode: 'FAB0', filteredMode: 'FAB2', pinned: { mode: 'FAB0', untilMs: 6000, remainingMs: 1 } })
    now = 6000
    // A read notices the end, and announces it.
    expect(filter.getMetrics()).toMatchObject({ effectiveMode: 'FAB2', filteredMode: 'FAB2', pinned: null })
    expect(filter.pinned).toBeNull()
    expect(filter.update('FAB2', 2)).toBe('FAB2')
    expect(events.map((e) => `${String(e.tick)} ${e.kind} ${e.from}->${e.to} ${e.reason}`)).toEqual(['0 effective FAB2->FAB0 forced', '1 effective FAB0->FAB2 restored'])
  })

  it('holds until unpin() without forMs; unpin reports whether a pin was in force', () => {
    let now = 0
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => now })
    filter.pin('FAB1')
    now = 1e15
    expect(filter.pinned).toEqual({ mode: 'FAB1', untilMs: null, remainingMs: null })
    expect(filter.update('FAB0', 1)).toBe('FAB1')
    // The filter kept filtering underneath: its own mode is in force again once the pin is lifted.
    expect(filter.unpin()).toBe(true)
    expect(filter.effectiveMode).toBe('FAB0')
    expect(filter.unpin()).toBe(false)
  })

  it('a new pin replaces the one in force', () => {
    let now = 0
    const filter = new Hysteresis({ clock: () => now })
    const seen: string[] = []
    filter.onTransition((e) => seen.push(`${e.from}->${e.to} ${e.reason}`))
    filter.pin('FAB0', { forMs: 10 })
    filter.pin('FAB1', { forMs: 100 })
    now = 50
    expect(filter.effectiveMode).toBe('FAB1')
    now = 100
    expect(filter.effectiveMode).toBe('FAB2')
    expect(seen).toEqual(['FAB2->FAB0 forced', 'FAB0->FAB1 forced', 'FAB1->FAB2 restored'])
  })

  it('rejects a bad mode or duration with a RangeError naming field, value and range', () => {
    const filter = new Hysteresis()
    expect(() => { filter.pin('FAB3' as never); }).toThrow(new RangeError('Hysteresis.pin: option "mode" must be one of "FAB0", "FAB1", "FAB2"; got "FAB3" (string)'))
    expect(() => { filter.pin('FAB1', { forMs: 0 }); }).toThrow(new RangeError('Hysteresis.pin: option "forMs" must be a number in (0, 1000000000000]; got 0'))
    expect(() => { filter.pin('FAB1', { forMs: Number.NaN }); }).toThrow(RangeError)
    expect(() => { filter.pin('FAB1', { for: 5 } as never); }).toThrow(/unknown option "for"/)
    expect(filter.pinned).toBeNull()
  })

  it('is not saved in snapshots: the filter restores its own mode', () => {
    const filter = new Hysteresis({ clock: () => 0 })
    filter.pin('FAB0')
    const snapshot = filter.toJSON()
    expect(snapshot.state.effectiveMode).toBe('FAB2')
    expect(Hysteresis.fromJSON(snapshot).pinned).toBeNull()
  })
})

describe('StabilityWindows.pin', () => {
  it("pins a window's filter, visible in its metrics and in the registry's events, ending by itself", () => {
    let now = 0
    const windows = new StabilityWindows({ clock: () => now })
    windows.tick('stream', 0.9)
    const seen: string[] = []
    windows.onTransition((e) => seen.push(`${e.windowId ?? '-'} ${e.from}->${e.to} ${e.reason}`))
    expect(windows.pin('stream', 'FAB0', { forMs: 60_000 })).toBe(true)
    expect(windows.get('stream')?.hysteresis?.getMetrics().pinned).toEqual({ mode: 'FAB0', untilMs: 60_000, remainingMs: 60_000 })
    now = 60_000
    windows.tick('stream', 0.9)
    expect(windows.get('stream')?.hysteresis?.getMetrics()).toMatchObject({ effectiveMode: 'FAB2', pinned: null })
    expect(seen).toEqual(['stream FAB2->FAB0 forced', 'stream FAB0->FAB2 restored'])
  })

  it("ends an idle window's pin at the next sweep (an exporter's scrape), without a tick", () => {
    let now = 0
    const windows = new StabilityWindows({ clock: () => now, idleTtlMs: Infinity })
    windows.tick('idle', 0.9)
    const seen: string[] = []
    windows.onTransition((e) => seen.push(`${e.from}->${e.to} ${e.reason}`))
    windows.pin('idle', 'FAB1', { forMs: 500 })
    now = 499
    windows.sweep()
    now = 500
    expect(seen).toEqual(['FAB2->FAB1 forced'])
    windows.sweep()
    expect(seen).toEqual(['FAB2->FAB1 forced', 'FAB1->FAB2 restored'])
  })

  it('returns false for an unknown window, throws without filters', () => {
    const windows = new StabilityWindows({ clock: () => 0 })
    expect(windows.pin('nope', 'FAB1')).toBe(false)
    expect(windows.unpin('nope')).toBe(false)
    const bare = new StabilityWindows({ hysteresis: false })
    bare.tick('a', 0.9)
    expect(() => bare.pin('a', 'FAB1')).toThrow(RangeError)
  })

  it('after a pinned window is removed, the others tick exactly as in a registry that never had a pin', () => {
    const a = new StabilityWindows({ hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
    const b = new StabilityWindows({ hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
    a.tick('x', 0.9)
    a.pin('x', 'FAB0')
    a.delete('x')
    for (let i = 0; i < 50; i++) {
      a.tick('y', i % 5 === 0 ? 0.2 : 0.9)
      b.tick('y', i % 5 === 0 ? 0.2 : 0.9)
    }
    expect(a.toJSON().windows).toEqual(b.toJSON().windows)
  })
})
