import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import { FAB_MODES, type FabMode } from './modes.js'
import { StabilityTracker } from './tracker.js'
import { StabilityWindows } from './windows.js'

/** A plain model of the filter with per-direction dwell: the oracle for the property below. */
function modelFilter(config: { up: number; down: number; rateLimit: number }, desired: readonly FabMode[]): FabMode[] {
  const rank = { FAB0: 0, FAB1: 1, FAB2: 2 }
  let effective: FabMode = 'FAB2'
  let dwell = 0
  let lastSwitch: number | null = null
  return desired.map((mode, tick) => {
    if (mode === effective) {
      dwell = 0
      return effective
    }
    dwell++
    const needed = rank[mode] > rank[effective] ? config.up : config.down
    if (dwell >= needed && (lastSwitch === null || tick - lastSwitch >= config.rateLimit)) {
      effective = mode
      dwell = 0
      lastSwitch = tick
    }
    return effective
  })
}

const modes = fc.array(fc.constantFrom(...FAB_MODES), { maxLength: 300 })

describe('per-direction dwell', () => {
  it('switches up after upgradeDwellTicks and down after downgradeDwellTicks (property against a model)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 8 }), modes, (up, down, rateLimit, desired) => {
        const filter = new Hysteresis({ dwellTicks: 3, upgradeDwellTicks: up, downgradeDwellTicks: down, rateLimitTicks: rateLimit, clock: () => 0 })
        const got = desired.map((mode, tick) => filter.update(mode, tick))
        expect(got).toEqual(modelFilter({ up, down, rateLimit }, desired))
      }),
    )
  })

  it('defaults to dwellTicks in both directions: the same run as the single dwell (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 8 }), modes, (dwell, rateLimit, desired) => {
        const single = new Hysteresis({ dwellTicks: dwell, rateLimitTicks: rateLimit, clock: () => 0 })
        const both = new Hysteresis({ dwellTicks: dwell, upgradeDwellTicks: dwell, downgradeDwellTicks: null, rateLimitTicks: rateLimit, clock: () => 0 })
        const model = modelFilter({ up: dwell, down: dwell, rateLimit }, desired)
        for (const [tick, mode] of desired.entries()) {
          expect(single.update(mode, tick)).toBe(model[tick])
          expect(both.update(mode, tick)).toBe(model[tick])
        }
      }),
    )
  })

  it('announces exactly the switches of the model, each once (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 8 }), modes, (up, down, rateLimit, desired) => {
        const filter = new Hysteresis({ upgradeDwellTicks: up, downgradeDwellTicks: down, rateLimitTicks: rateLimit, clock: () => 0 })
        const got: string[] = []
        filter.onTransition((e) => {
          if (e.kind === 'effective') got.push(`${String(e.tick)} ${e.from}->${e.to}`)
        })
        for (const [tick, mode] of desired.entries()) filter.update(mode, tick)
        const want: string[] = []
        let previous: FabMode = 'FAB2'
        for (const [tick, mode] of modelFilter({ up, down, rateLimit }, desired).entries()) {
          if (mode !== previous) want.push(`${String(tick)} ${previous}->${mode}`)
          previous = mode
        }
        expect(got).toEqual(want)
      }),
    )
  })

  it('downgrades fast and upgrades slow, as HPA stabilization windows', () => {
    const filter = new Hysteresis({ downgradeDwellTicks: 1, upgradeDwellTicks: 5, rateLimitTicks: 0, clock: () => 0 })
    expect(filter.update('FAB0', 1)).toBe('FAB0')
    const ups = [2, 3, 4, 5, 6].map((tick) => filter.update('FAB2', tick))
    expect(ups).toEqual(['FAB0', 'FAB0', 'FAB0', 'FAB0', 'FAB2'])
  })

  it('validates the per-direction dwell', () => {
    expect(() => new Hysteresis({ upgradeDwellTicks: -1 })).toThrow(new RangeError('Hysteresis: option "upgradeDwellTicks" must be an integer in [0, 1000000000000]; got -1'))
    expect(() => new Hysteresis({ downgradeDwellTicks: 1.5 })).toThrow(/"downgradeDwellTicks" must be an integer/)
  })

  it('snapshots of earlier versions (without the per-direction keys) restore with both at dwellTicks', () => {
    const filter = new Hysteresis({ dwellTicks: 7, clock: () => 0 })
    const { upgradeDwellTicks: _up, downgradeDwellTicks: _down, ...old } = filter.toJSON().config
    const restored = Hysteresis.fromJSON({ ...filter.toJSON(), config: old })
    expect(restored.config).toEqual(filter.config)
  })
})

describe('configure on a live tracker or filter', () => {
  it('tracker: changes the config and keeps the state; the next ticks equal a tracker restored under the new config', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { maxLength: 100 }),
        fc.record({ minStableTicks: fc.integer({ min: 1, max: 50 }), emaDecay: fc.double({ min: 0, max: 0.99, noNaN: true }), degradationThreshold: fc.double({ min: 0.01, max: 1, noNaN: true }) }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { maxLength: 100 }),
        (before, change, after) => {
          const live = new StabilityTracker({ clock: () => 0 })
          for (const [s, d] of before) live.tick(s, d)
          const snapshot = live.toJSON()
          live.configure(change)
          // The oracle: the same state under the new config, built from a snapshot.
          const oracle = StabilityTracker.fromJSON({ ...snapshot, config: { ...snapshot.config, ...change } }, { clock: () => 0 })
          expect(live.toJSON()).toEqual(oracle.toJSON())
          for (const [s, d] of after) {
            live.tick(s, d)
            oracle.tick(s, d)
          }
          expect(live.toJSON()).toEqual(oracle.toJSON())
        },
      ),
    )
  })

  it('tracker: cuts a running cool-down to a smaller cap, so its snapshot stays valid', () => {
    const tracker = new StabilityTracker({ cooldownMaxTicks: 100, clock: () => 0 })
    for (let i = 0; i < 6; i++) tracker.tick(0.9, true)
    expect(tracker.cooldownRemaining).toBe(64)
    tracker.configure({ cooldownMaxTicks: 10 })
    expect(tracker.cooldownRemaining).toBe(10)
    expect(StabilityTracker.fromJSON(tracker.toJSON()).cooldownRemaining).toBe(10)
  })

  it('tracker: a bad change throws a RangeError naming field, value and range, and changes nothing', () => {
    const tracker = new StabilityTracker()
    expect(() => { tracker.configure({ emaDecay: 1 }); }).toThrow(new RangeError('StabilityTracker: option "emaDecay" must be a number in [0, 1); got 1'))
    expect(() => { tracker.configure({ minStableTicks: 10, degradationThreshold: 0 }); }).toThrow(/"degradationThreshold" must be a number in \(0, 1\]; got 0/)
    expect(() => { tracker.configure({ clock: () => 0 } as never); }).toThrow(new RangeError('StabilityTracker.configure: unknown option "clock"; known options: minStableTicks, emaDecay, cooldownBase, cooldownMaxTicks, degradationThreshold, scoreBuckets'))
    expect(tracker.config.minStableTicks).toBe(100)
  })

  it('filter: keeps effective mode, dwell counter and last switch; a shorter dwell switches at the next differing update', () => {
    const filter = new Hysteresis({ dwellTicks: 10, rateLimitTicks: 0, clock: () => 0 })
    for (let t = 0; t < 4; t++) filter.update('FAB1', t)
    expect(filter.getMetrics()).toMatchObject({ effectiveMode: 'FAB2', dwellCounter: 4 })
    filter.configure({ downgradeDwellTicks: 3 })
    expect(filter.getMetrics()).toMatchObject({ effectiveMode: 'FAB2', dwellCounter: 4 })
    expect(filter.update('FAB1', 4)).toBe('FAB1')
    expect(filter.config).toMatchObject({ dwellTicks: 10, downgradeDwellTicks: 3, upgradeDwellTicks: null })
  })

  it('filter: rateWindowMs and initialMode are fixed; bad values throw and change nothing', () => {
    const filter = new Hysteresis()
    expect(() => { filter.configure({ rateWindowMs: 5 } as never); }).toThrow(/Hysteresis.configure: unknown option "rateWindowMs"/)
    expect(() => { filter.configure({ rateLimitTicks: -3 }); }).toThrow(new RangeError('Hysteresis: option "rateLimitTicks" must be an integer in [0, 1000000000000]; got -3'))
    expect(filter.config.rateLimitTicks).toBe(1000)
  })
})

describe('StabilityWindows: defaults, overrides, configure', () => {
  it('applies overrides by exact id and by pattern, later ones winning', () => {
    const windows = new StabilityWindows({
      hysteresis: { dwellTicks: 20 },
      overrides: [
        { match: 'gpu-*', hysteresis: { downgradeDwellTicks: 2, upgradeDwellTicks: 200 } },
        { match: 'gpu-7', hysteresis: { upgradeDwellTicks: 50 }, tracker: { minStableTicks: 10 } },
      ],
    })
    expect(windows.configOf('cpu').hysteresis).toMatchObject({ dwellTicks: 20, downgradeDwellTicks: null, upgradeDwellTicks: null })
    expect(windows.configOf('gpu-1').hysteresis).toMatchObject({ downgradeDwellTicks: 2, upgradeDwellTicks: 200 })
    expect(windows.configOf('gpu-7').hysteresis).toMatchObject({ downgradeDwellTicks: 2, upgradeDwellTicks: 50 })
    expect(windows.configOf('gpu-7').tracker.minStableTicks).toBe(10)
    expect(windows.configOf('xgpu-1').hysteresis).toMatchObject({ upgradeDwellTicks: null })
    windows.tick('gpu-7', 0.9)
    expect(windows.get('gpu-7')?.tracker.config.minStableTicks).toBe(10)
    expect(windows.get('gpu-7')?.hysteresis?.config.upgradeDwellTicks).toBe(50)
  })

  it('a pattern matches literally apart from "*"', () => {
    const windows = new StabilityWindows({ overrides: [{ match: 'a.b(*)', tracker: { minStableTicks: 3 } }] })
    expect(windows.configOf('a.b(x)').tracker.minStableTicks).toBe(3)
    expect(windows.configOf('a.b()').tracker.minStableTicks).toBe(3)
    expect(windows.configOf('aXb(x)').tracker.minStableTicks).toBe(100)
  })

  it('configure changes live windows without losing state; windows tick like ones restored under the new config', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 5 }, hysteresis: { dwellTicks: 4, rateLimitTicks: 2 }, clock: () => 0 })
    for (let i = 0; i < 40; i++) {
      windows.tick('gpu-0', i % 9 === 0 ? 0.3 : 0.9)
      windows.tick('cpu', i % 13 === 0 ? 0.3 : 0.9)
    }
    const before = windows.toJSON()
    windows.configure({ hysteresis: { downgradeDwellTicks: 1 } }, 'gpu-*')
    windows.configure({ tracker: { emaDecay: 0.9 } })
    const after = windows.toJSON()
    // State untouched, config changed.
    for (const [i, w] of after.windows.entries()) {
      expect(w.tracker.state).toEqual(before.windows[i]?.tracker.state)
      expect(w.hysteresis?.state).toEqual(before.windows[i]?.hysteresis?.state)
      expect(w.tracker.config.emaDecay).toBe(0.9)
    }
    expect(after.windows.map((w) => w.hysteresis?.config.downgradeDwellTicks)).toEqual([1, null])
    // The oracle: standalone trackers and filters restored from the windows' snapshots.
    const oracle = after.windows.map((w) => ({
      id: w.id,
      tracker: StabilityTracker.fromJSON(w.tracker, { clock: () => 0 }),
      filter: Hysteresis.fromJSON(w.hysteresis, { clock: () => 0 }),
    }))
    for (let i = 0; i < 40; i++) {
      for (const o of oracle) {
        const score = i % 4 === 0 ? 0.2 : 0.95
        windows.tick(o.id, score)
        o.tracker.tick(score)
        o.filter.update(o.tracker.recommendMode(), o.tracker.ticks)
      }
    }
    for (const o of oracle) {
      expect(windows.get(o.id)?.tracker.toJSON().state).toEqual(o.tracker.toJSON().state)
      expect(windows.get(o.id)?.hysteresis?.toJSON().state).toEqual(o.filter.toJSON().state)
    }
  })

  it('configure validates everything first: a RangeError names field, value and range, and nothing changes', () => {
    const windows = new StabilityWindows({ hysteresis: { rateLimitTicks: 10 } })
    windows.tick('a', 0.9)
    expect(() => { windows.configure({ hysteresis: { rateLimitTicks: 10, dwellTicks: -1 } }, 'a'); }).toThrow(
      new RangeError('Hysteresis: option "dwellTicks" must be an integer in [0, 1000000000000]; got -1'),
    )
    expect(() => { windows.configure({ tracker: { nope: 1 } as never }); }).toThrow(/StabilityWindows.configure: unknown option "nope"/)
    expect(() => { windows.configure({ tracker: {} }, ''); }).toThrow(/option "match" must be a window id or a pattern/)
    expect(windows.overrides).toEqual([])
    expect(windows.get('a')?.hysteresis?.config.rateLimitTicks).toBe(10)
    const bare = new StabilityWindows({ hysteresis: false })
    expect(() => { bare.configure({ hysteresis: { dwellTicks: 1 } }); }).toThrow(/option "hysteresis" must be absent: the registry has no filters/)
  })

  it('merges repeated configure calls for one pattern, and removeOverride goes back to the defaults', () => {
    const windows = new StabilityWindows({ clock: () => 0 })
    windows.tick('s', 0.9)
    windows.configure({ hysteresis: { dwellTicks: 3 } }, 's')
    windows.configure({ tracker: { minStableTicks: 7 } }, 's')
    expect(windows.overrides).toEqual([{ match: 's', hysteresis: { dwellTicks: 3 }, tracker: { minStableTicks: 7 } }])
    expect(windows.removeOverride('s')).toBe(true)
    expect(windows.removeOverride('s')).toBe(false)
    expect(windows.get('s')?.hysteresis?.config.dwellTicks).toBe(50)
    expect(windows.get('s')?.tracker.config.minStableTicks).toBe(100)
  })

  it('snapshots round-trip the defaults and the overrides; restored windows tick identically', () => {
    const windows = new StabilityWindows({ overrides: [{ match: 'gpu-*', hysteresis: { downgradeDwellTicks: 1 } }], clock: () => 0 })
    for (let i = 0; i < 30; i++) {
      windows.tick('gpu-1', i % 6 === 0 ? 0.1 : 0.9)
      windows.tick('cpu', 0.9)
    }
    windows.configure({ tracker: { minStableTicks: 12 } }, 'cpu')
    windows.configure({ hysteresis: { rateLimitTicks: 3 } })
    const text = JSON.stringify(windows.toJSON())
    const restored = StabilityWindows.fromJSON(JSON.parse(text), { clock: () => 0 })
    expect(restored.overrides).toEqual(windows.overrides)
    expect(restored.overrides).toEqual([
      { match: 'gpu-*', hysteresis: { downgradeDwellTicks: 1 } },
      { match: 'cpu', tracker: { minStableTicks: 12 } },
    ])
    expect(restored.toJSON()).toEqual(windows.toJSON())
    for (let i = 0; i < 30; i++) {
      for (const w of [windows, restored]) {
        w.tick('gpu-1', i % 5 === 0 ? 0.1 : 0.9)
        w.tick('gpu-2', 0.5)
      }
    }
    expect(restored.toJSON()).toEqual(windows.toJSON())
    expect(restored.configOf('gpu-2')).toEqual(windows.configOf('gpu-2'))
  })

  it('reads snapshots without overrides, and refuses a window whose config contradicts them', () => {
    const windows = new StabilityWindows({ clock: () => 0 })
    windows.tick('a', 0.9)
    const { overrides: _none, ...old } = windows.toJSON()
    expect(StabilityWindows.fromJSON(old).overrides).toEqual([])
    const snapshot = windows.toJSON()
    const contradicted = { ...snapshot, overrides: [{ match: 'a', tracker: { minStableTicks: 3 } }] }
    expect(() => StabilityWindows.fromJSON(contradicted)).toThrow(/windows\[0\]\.tracker\.config.*differs from the registry tracker config and its overrides/)
  })

  it('keeps rateWindowMs and initialMode fixed at run time', () => {
    const windows = new StabilityWindows()
    windows.tick('a', 0.9)
    expect(() => {
      windows.configure({ hysteresis: { rateWindowMs: 1 } as never })
    }).toThrow(/StabilityWindows.configure: unknown option "rateWindowMs"/)
    expect(() => {
      windows.configure({ hysteresis: { initialMode: 'FAB0' } as never }, 'b')
    }).toThrow(/StabilityWindows.configure: unknown option "initialMode"/)
  })
})
