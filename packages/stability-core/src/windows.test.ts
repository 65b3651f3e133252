import { describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import { SnapshotError } from './snapshot-error.js'
import { StabilityTracker } from './tracker.js'
import { StabilityWindows } from './windows.js'

describe('StabilityWindows', () => {
  it('creates a tracker and a filter per window on first use', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 30 }, clock: () => 0 })
    expect(windows.tick('global', 0.9)).toBe(true)
    expect(windows.tick('stream', 0.9)).toBe(true)
    expect(windows.tick('global', 0.9)).toBe(true)
    expect(windows.size).toBe(2)
    expect(windows.ids()).toEqual(['global', 'stream'])
    const global = windows.get('global')
    expect(global?.tracker).toBeInstanceOf(StabilityTracker)
    expect(global?.hysteresis).toBeInstanceOf(Hysteresis)
    expect(global?.tracker.ticks).toBe(2)
    expect(global?.tracker.config.minStableTicks).toBe(30)
    expect(windows.get('other')).toBeUndefined()
    expect(windows.has('stream')).toBe(true)
  })

  it('feeds the tracker recommendation to the filter at the tracker tick', () => {
    const windows = new StabilityWindows({
      tracker: { minStableTicks: 1, emaDecay: 0, cooldownMaxTicks: 0 },
      hysteresis: { dwellTicks: 2, rateLimitTicks: 0 },
      clock: () => 0,
    })
    windows.tick('w', 0.9)
    windows.tick('w', 0.9, true)
    windows.tick('w', 0.9, true)
    const h = windows.get('w')?.hysteresis?.getMetrics()
    expect(h).toMatchObject({ effectiveMode: 'FAB0', lastSwitchTick: 3, switchCount: 1 })
  })

  it('does not advance the filter on an invalid sample', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 1, emaDecay: 0 }, hysteresis: { dwellTicks: 2 }, clock: () => 0 })
    windows.tick('w', 0.9, true)
    windows.tick('w', Number.NaN)
    windows.tick('w', Number.NaN)
    expect(windows.get('w')?.hysteresis?.getMetrics().dwellCounter).toBe(1)
    expect(windows.get('w')?.tracker.invalidSamples).toBe(2)
  })

  it('can run without filters', () => {
    const windows = new StabilityWindows({ hysteresis: false })
    windows.tick('w', 0.5)
    expect(windows.get('w')?.hysteresis).toBeNull()
  })

  it.each([
    ['an empty id', ''],
    ['a 129-character id', 'x'.repeat(129)],
    ['a newline', 'a\nb'],
    ['a NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', '\udc00'],
    ['a number', 5],
  ])('rejects and counts %s', (_label, id) => {
    const windows = new StabilityWindows()
    expect(windows.tick(id as string, 0.5)).toBe(false)
    expect(windows.acquire(id as string)).toBeUndefined()
    expect(windows.rejections).toEqual({ invalidId: 2, capacity: 0 })
    expect(windows.size).toBe(0)
  })

  it.each([
    ['quotes and backslashes', 'a"b\\c'],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['a 128-character id', 'x'.repeat(128)],
    ['a surrogate pair', 'stream-😀'],
    ['spaces and unicode', 'débit entrant'],
  ])('accepts %s', (_label, id) => {
    const windows = new StabilityWindows()
    expect(windows.tick(id, 0.5)).toBe(true)
    expect(windows.get(id)?.id).toBe(id)
  })

  it('throws on an invalid id in strict mode', () => {
    const windows = new StabilityWindows({ strict: true })
    expect(() => windows.tick('a\nb', 0.5)).toThrow(new RangeError('StabilityWindows: window id "a\\nb" (string) contains a control character (U+000A)'))
  })

  it('caps live windows at maxWindows and counts refusals', () => {
    const windows = new StabilityWindows({ maxWindows: 3, clock: () => 0 })
    for (let i = 0; i < 10; i++) windows.tick(`w${String(i)}`, 0.5)
    expect(windows.size).toBe(3)
    expect(windows.rejections).toEqual({ invalidId: 0, capacity: 7 })
    expect(windows.tick('w1', 0.5)).toBe(true)
  })

  it('evicts idle windows after the TTL, never before', () => {
    let now = 0
    const windows = new StabilityWindows({ idleTtlMs: 1000, clock: () => now })
    windows.tick('idle', 0.5)
    windows.tick('busy', 0.5)
    now = 500
    expect(windows.sweep()).toBe(0)
    windows.tick('busy', 0.5)
    now = 999
    expect(windows.sweep()).toBe(0)
    now = 1500
    windows.tick('busy', 0.5)
    expect(windows.sweep()).toBe(1)
    expect(windows.ids()).toEqual(['busy'])
    expect(windows.evicted).toBe(1)
  })

  it('sweeps when a new id meets a full registry', () => {
    let now = 0
    const windows = new StabilityWindows({ maxWindows: 1, idleTtlMs: 100, clock: () => now })
    windows.tick('old', 0.5)
    now = 50
    windows.sweep()
    now = 200
    expect(windows.tick('new', 0.5)).toBe(true)
    expect(windows.ids()).toEqual(['new'])
    expect(windows.rejections.capacity).toBe(0)
  })

  it('keeps windows forever with an infinite TTL', () => {
    let now = 0
    const windows = new StabilityWindows({ idleTtlMs: Infinity, clock: () => now })
    windows.tick('w', 0.5)
    now = 1e15
    expect(windows.sweep()).toBe(0)
    expect(windows.size).toBe(1)
  })

  it('deletes and clears', () => {
    const windows = new StabilityWindows()
    for (const id of ['a', 'b', 'c']) windows.tick(id, 0.5)
    expect(windows.delete('a')).toBe(true)
    expect(windows.delete('a')).toBe(false)
    expect(windows.ids().sort()).toEqual(['b', 'c'])
    expect(windows.get('c')?.id).toBe('c')
    expect(windows.delete('c')).toBe(true)
    expect(windows.ids()).toEqual(['b'])
    windows.clear()
    expect(windows.size).toBe(0)
  })

  it('iterates with for-of and forEach', () => {
    const windows = new StabilityWindows()
    for (const id of ['a', 'b']) windows.tick(id, 0.5)
    expect([...windows].map((w) => w.id)).toEqual(['a', 'b'])
    const seen: string[] = []
    windows.forEach((w) => seen.push(w.id))
    expect(seen).toEqual(['a', 'b'])
  })

  it('acquire creates without ticking', () => {
    const windows = new StabilityWindows()
    const w = windows.acquire('a')
    expect(w?.tracker.ticks).toBe(0)
    expect(windows.acquire('a')).toBe(w)
  })

  it.each([
    ['maxWindows', 0, /"maxWindows" must be an integer in \[1, 1000000\]; got 0/],
    ['idleTtlMs', 0, /"idleTtlMs" must be a number in \(0, Infinity\]; got 0/],
    ['tracker', 5, /"tracker" must be an object of tracker options; got 5/],
    ['hysteresis', true, /"hysteresis" must be an object of filter options, or false; got true/],
    ['strict', 'no', /"strict" must be a boolean/],
  ])('rejects %s = %s', (field, value, message) => {
    expect(() => new StabilityWindows({ [field]: value })).toThrow(message)
  })

  it('validates nested tracker and filter options at construction', () => {
    expect(() => new StabilityWindows({ tracker: { emaDecay: 2 } })).toThrow(/StabilityTracker: option "emaDecay"/)
    expect(() => new StabilityWindows({ hysteresis: { dwellTicks: -1 } })).toThrow(/Hysteresis: option "dwellTicks"/)
  })
})

describe('StabilityWindows snapshots', () => {
  function populated(clock: () => number): StabilityWindows {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 5 }, hysteresis: { dwellTicks: 2, rateLimitTicks: 0 }, clock })
    for (let i = 0; i < 40; i++) {
      windows.tick('global', i % 9 === 0 ? 0.2 : 0.9, i % 11 === 0)
      windows.tick('stream', 0.8)
    }
    windows.tick('', 0.5)
    return windows
  }

  it('round-trips and continues identically', () => {
    let now = 100
    const original = populated(() => now)
    const restored = StabilityWindows.fromJSON(JSON.parse(JSON.stringify(original.toJSON())), { clock: () => now })
    expect(restored.ids()).toEqual(original.ids())
    expect(restored.rejections).toEqual({ invalidId: 1, capacity: 0 })
    for (let i = 0; i < 30; i++) {
      now += 10
      for (const w of [original, restored]) w.tick('global', i % 4 === 0 ? 0.3 : 0.9)
    }
    for (const id of original.ids()) {
      expect(restored.get(id)?.tracker.getMetrics()).toEqual(original.get(id)?.tracker.getMetrics())
      expect(restored.get(id)?.hysteresis?.getMetrics()).toEqual(original.get(id)?.hysteresis?.getMetrics())
    }
  })

  it('restores windows without filters', () => {
    const windows = new StabilityWindows({ hysteresis: false })
    windows.tick('a', 0.5)
    const restored = StabilityWindows.fromJSON(windows.toJSON())
    expect(restored.get('a')?.hysteresis).toBeNull()
  })

  const valid = (): Record<string, any> => JSON.parse(JSON.stringify(populated(() => 0).toJSON()))
  const tampered: [string, (s: Record<string, any>) => unknown, RegExp][] = [
    ['another format', (s) => ({ ...s, format: 'x' }), /format must be "auris.stability-windows"/],
    ['a future version', (s) => ({ ...s, version: 3 }), /version 3 is not supported/],
    ['windows not an array', (s) => ({ ...s, windows: {} }), /windows must be an array/],
    ['a bad window id', (s) => ({ ...s, windows: [{ ...s.windows[0], id: 'a\nb' }] }), /windows\[0\].id contains a control character/],
    ['a repeated id', (s) => ({ ...s, windows: [s.windows[0], s.windows[0]] }), /windows\[1\].id repeats window "global"/],
    ['a broken tracker', (s) => ({ ...s, windows: [{ ...s.windows[0], tracker: { ...s.windows[0].tracker, version: 0 } }] }), /Invalid StabilityTracker snapshot: version 0/],
    ['a broken filter', (s) => ({ ...s, windows: [{ ...s.windows[0], hysteresis: {} }] }), /Invalid Hysteresis snapshot: format/],
    ['bad rejection counts', (s) => ({ ...s, rejections: { invalidId: -1, capacity: 0 } }), /rejections.invalidId/],
    ['a missing eviction count', (s) => ({ ...s, evicted: undefined }), /evicted must be an integer/],
  ]

  it.each(tampered)('refuses a snapshot with %s', (_label, mutate, message) => {
    const bad = mutate(valid())
    expect(() => StabilityWindows.fromJSON(bad)).toThrow(SnapshotError)
    expect(() => StabilityWindows.fromJSON(bad)).toThrow(message)
  })

  it('refuses more windows than maxWindows', () => {
    expect(() => StabilityWindows.fromJSON(valid(), { maxWindows: 1 })).toThrow(/holds 2 windows, more than maxWindows \(1\)/)
  })
})

describe('StabilityWindows handles', () => {
  it('tick a window without the id lookup, exactly like tick(id)', () => {
    const a = new StabilityWindows({ tracker: { minStableTicks: 3 }, hysteresis: { dwellTicks: 2, rateLimitTicks: 0 }, clock: () => 0 })
    const b = new StabilityWindows({ tracker: { minStableTicks: 3 }, hysteresis: { dwellTicks: 2, rateLimitTicks: 0 }, clock: () => 0 })
    const handle = b.acquire('w')!
    for (let i = 0; i < 40; i++) {
      const score = i % 5 === 0 ? 0.2 : 0.9
      a.tick('w', score, i % 7 === 0)
      expect(handle.tick(score, i % 7 === 0)).toBe(true)
    }
    handle.tick(Number.NaN)
    a.tick('w', Number.NaN)
    expect(handle.tracker.getMetrics()).toEqual(a.get('w')?.tracker.getMetrics())
    expect(handle.hysteresis?.getMetrics()).toEqual(a.get('w')?.hysteresis?.getMetrics())
  })

  it('retire when the window is removed, while tracker and filter keep their state', () => {
    const windows = new StabilityWindows({ clock: () => 0 })
    const handle = windows.acquire('gone')!
    handle.tick(0.9)
    handle.tick(0.9, true)
    const before = handle.tracker.getMetrics()
    windows.delete('gone')
    expect(handle.tick(0.9)).toBe(false)
    // The block is reused by the next window; the detached tracker must not see it.
    const other = windows.acquire('new')!
    for (let i = 0; i < 5; i++) other.tick(0.5)
    expect(handle.tracker.getMetrics()).toEqual(before)
    expect(other.tracker.ticks).toBe(5)
    // A detached tracker still works on its own.
    handle.tracker.tick(0.9)
    expect(handle.tracker.ticks).toBe(3)
    expect(other.tracker.ticks).toBe(5)
  })

  it('let the filter refuse a registry update when it was driven past the tracker tick by hand', () => {
    const windows = new StabilityWindows({ clock: () => 0 })
    const w = windows.acquire('w')!
    w.hysteresis?.update('FAB2', 100)
    w.tick(0.9)
    expect(w.hysteresis?.getMetrics().invalidUpdates).toBe(1)
    windows.tick('w', 0.9)
    expect(w.hysteresis?.getMetrics().invalidUpdates).toBe(2)
  })

  it('time switches made through the registry', () => {
    let now = 0
    const windows = new StabilityWindows({
      tracker: { minStableTicks: 1, emaDecay: 0, cooldownMaxTicks: 0 },
      hysteresis: { dwellTicks: 1, rateLimitTicks: 0, oscWindow: 10, rateWindowMs: 1000 },
      clock: () => now,
    })
    const modes = [true, false, true, false]
    for (const degraded of modes) {
      now += 100
      windows.tick('w', 0.9, degraded)
    }
    expect(windows.get('w')?.hysteresis?.getMetrics()).toMatchObject({ switchCount: 4, oscCount: 3, switchRatePerSec: 4, oscillationRatePerSec: 3 })
  })

  it('expose the shared configs', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 7 }, hysteresis: false })
    expect(windows.trackerConfig.minStableTicks).toBe(7)
    expect(windows.hysteresisConfig).toBe(false)
    expect(new StabilityWindows().hysteresisConfig).toMatchObject({ dwellTicks: 50 })
  })
})

describe('StabilityWindows snapshot fit', () => {
  it('refuses a window whose config differs from the registry', () => {
    const a = new StabilityWindows({ tracker: { minStableTicks: 5 } })
    a.tick('w', 0.5)
    const snap = JSON.parse(JSON.stringify(a.toJSON()))
    snap.windows[0].tracker.config.minStableTicks = 6
    expect(() => StabilityWindows.fromJSON(snap)).toThrow(/windows\[0\].tracker.config differs from the registry tracker config/)
    const h = JSON.parse(JSON.stringify(a.toJSON()))
    h.windows[0].hysteresis.config.dwellTicks = 3
    expect(() => StabilityWindows.fromJSON(h)).toThrow(/windows\[0\].hysteresis.config differs/)
    const missing = JSON.parse(JSON.stringify(a.toJSON()))
    missing.windows[0].hysteresis = null
    expect(() => StabilityWindows.fromJSON(missing)).toThrow(/is missing while the registry has filters/)
  })

  it('refuses filters in a registry without them', () => {
    const a = new StabilityWindows({ hysteresis: false })
    a.tick('w', 0.5)
    const snap = JSON.parse(JSON.stringify(a.toJSON()))
    snap.windows[0].hysteresis = new StabilityWindows().acquire('x')?.hysteresis?.toJSON()
    expect(() => StabilityWindows.fromJSON(snap)).toThrow(/must be null: the registry has no filters/)
  })

  it('refuses a registry config that does not validate', () => {
    const snap = JSON.parse(JSON.stringify(new StabilityWindows().toJSON()))
    snap.tracker.emaDecay = 5
    expect(() => StabilityWindows.fromJSON(snap)).toThrow(/tracker StabilityTracker: option "emaDecay"/)
  })
})

describe('hostile snapshot objects', () => {
  it('reads a window id once: a getter answering an invalid id the second time is refused, not restored or crashed on', () => {
    const a = new StabilityWindows({ clock: () => 0 })
    a.tick('a', 0.9)
    a.tick('b', 0.5, true)
    for (const second of ['x\u0000', 'b', 42]) {
      const snap = JSON.parse(JSON.stringify(a.toJSON()))
      let reads = 0
      Object.defineProperty(snap.windows[0], 'id', { get: () => (reads++ === 0 ? 'a' : second), enumerable: true })
      const restored = StabilityWindows.fromJSON(snap, { clock: () => 0 })
      expect([...restored].map((w) => w.id)).toEqual(['a', 'b'])
      expect(reads).toBe(1)
    }
  })

  it('turns a throwing getter or Proxy anywhere in a snapshot into a SnapshotError', () => {
    const boom = (): never => {
      throw new Error('boom')
    }
    const a = new StabilityWindows({ clock: () => 0 })
    a.tick('a', 0.9)
    const snap = JSON.parse(JSON.stringify(a.toJSON()))
    Object.defineProperty(snap.windows[0].tracker.state, 'ema', { get: boom, enumerable: true })
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    const cases: [() => unknown, string][] = [
      [() => StabilityWindows.fromJSON(snap), 'StabilityWindows'],
      [() => StabilityWindows.fromJSON(new Proxy({}, { get: boom })), 'StabilityWindows'],
      [() => StabilityTracker.fromJSON(new Proxy({}, { get: boom })), 'StabilityTracker'],
      [() => StabilityTracker.fromJSON(revoked.proxy), 'StabilityTracker'],
      [() => Hysteresis.fromJSON(new Proxy({}, { get: boom })), 'Hysteresis'],
      [
        () =>
          Hysteresis.fromJSON({
            format: 'auris.hysteresis',
            version: 1,
            get config(): never {
              // eslint-disable-next-line @typescript-eslint/only-throw-error -- a hostile getter may throw anything
              throw Symbol('odd')
            },
          }),
        'Hysteresis',
      ],
    ]
    for (const [restore, kind] of cases) {
      let caught: unknown
      try {
        restore()
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(SnapshotError)
      expect((caught as SnapshotError).message).toMatch(new RegExp(`^Invalid ${kind} snapshot: reading it threw`))
    }
  })
})

describe('StabilityWindows nested options', () => {
  it('refuses a clock or strict inside tracker or hysteresis options instead of silently overriding it', () => {
    const clock = (): number => 0
    expect(() => new StabilityWindows({ tracker: { clock } as never })).toThrow('StabilityWindows: option "tracker.clock" must be absent: set "clock" on the registry, which applies it to every window; got a function')
    expect(() => new StabilityWindows({ tracker: { strict: true } as never })).toThrow('StabilityWindows: option "tracker.strict" must be absent: set "strict" on the registry, which applies it to every window; got true')
    expect(() => new StabilityWindows({ hysteresis: { clock } as never })).toThrow('StabilityWindows: option "hysteresis.clock" must be absent')
    expect(() => new StabilityWindows({ hysteresis: { strict: false } as never })).toThrow('StabilityWindows: option "hysteresis.strict" must be absent')
    expect(new StabilityWindows({ clock, strict: true, tracker: { minStableTicks: 5 }, hysteresis: false }).trackerConfig.minStableTicks).toBe(5)
  })
})

describe('StabilityWindows.fromJSON options', () => {
  it('refuses bad options with a RangeError naming the option, as documented, not a SnapshotError', () => {
    const snap = new StabilityWindows().toJSON()
    expect(() => StabilityWindows.fromJSON(snap, { maxWindows: -1 })).toThrow(RangeError)
    expect(() => StabilityWindows.fromJSON(snap, { maxWindows: -1 })).toThrow('StabilityWindows: option "maxWindows" must be an integer in [1, 1000000]; got -1')
    expect(() => StabilityWindows.fromJSON(snap, { tracker: {} } as never)).toThrow(/StabilityWindows: unknown option "tracker"/)
    expect(() => StabilityWindows.fromJSON(snap, { maxWindows: -1 })).not.toThrow(SnapshotError)
    expect(StabilityWindows.fromJSON(snap, { maxWindows: 3 }).maxWindows).toBe(3)
  })
})
