import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import { modeForEma, type FabMode } from './modes.js'
import { StabilityTracker } from './tracker.js'
import type { HoldReason, TransitionEvent } from './transitions.js'
import { StabilityWindows } from './windows.js'
import type { HysteresisCase, ReferenceVectors, TrackerCase } from './__fixtures__/reference-vectors.js'

const vectors = JSON.parse(readFileSync(new URL('./__fixtures__/reference-vectors.json', import.meta.url), 'utf8')) as ReferenceVectors

/** Compact rendering of an event, so a whole run is compared in one `toEqual`. */
function line(e: TransitionEvent): string {
  const held = e.held === null ? '' : ` held=${e.held}`
  const values = e.ema === null ? '' : ` ema=${String(e.ema)} score=${String(e.score)}`
  return `${String(e.tick)} ${e.windowId ?? '-'} ${e.kind} ${e.from}->${e.to} ${e.reason}${held}${values}${e.oscillation ? ' osc' : ''}`
}

describe('transition events: every kind, once, with its payload', () => {
  it('a registry window: recommended and effective changes by EMA and cool-down, holds, a pin and its end', () => {
    let now = 0
    const windows = new StabilityWindows({
      clock: () => now,
      tracker: { emaDecay: 0.5, minStableTicks: 1, cooldownBase: 2, cooldownMaxTicks: 2 },
      hysteresis: { dwellTicks: 2, rateLimitTicks: 4, oscWindow: 3 },
    })
    const events: TransitionEvent[] = []
    windows.onTransition((e) => events.push(e))
    windows.tick('a', 0.9, true) // tick 1: EMA 0.5, a cool-down of 2
    windows.tick('a', 0.9) // 2: EMA 0.25; the filter dwelt 2 ticks: first switch, free
    windows.tick('a', 0.9) // 3: cool-down over, score 1, EMA 0.625
    windows.tick('a', 0.9) // 4: EMA 0.8125; dwell reached, rate limit (4) not, within oscWindow (3)
    windows.tick('a', 0.9) // 5: the same hold: not announced again
    windows.tick('a', 0.9) // 6: 4 ticks since the switch: upgrade
    expect(events.map(line)).toEqual([
      '1 a recommended FAB2->FAB1 cooldown ema=0.5 score=0',
      '1 a held FAB2->FAB1 cooldown held=dwell ema=0.5 score=0',
      '2 a recommended FAB1->FAB0 cooldown ema=0.25 score=0',
      '2 a effective FAB2->FAB0 cooldown ema=0.25 score=0',
      '3 a recommended FAB0->FAB1 ema-threshold ema=0.625 score=1',
      '3 a held FAB0->FAB1 ema-threshold held=dwell ema=0.625 score=1',
      '4 a recommended FAB1->FAB2 ema-threshold ema=0.8125 score=1',
      '4 a held FAB0->FAB2 ema-threshold held=oscillation ema=0.8125 score=1',
      '6 a effective FAB0->FAB2 ema-threshold ema=0.953125 score=1',
    ])
    events.length = 0
    windows.pin('a', 'FAB1', { forMs: 100 })
    windows.tick('a', 0.9, true) // 7: recommended FAB0; the filter dwells under the pin (not announced)
    windows.tick('a', 0.9, true) // 8: dwell reached, rate-limited until tick 10 (not announced under a pin)
    now = 99
    windows.tick('a', 0.9, true) // 9: still pinned
    now = 100
    windows.tick('a', 0.9, true) // 10: the filter's own mode switches to FAB0 under the pin, then the pin ends
    expect(events.map(line)).toEqual([
      '6 a effective FAB2->FAB1 forced',
      '7 a recommended FAB2->FAB0 cooldown ema=0.4765625 score=0',
      '10 a held FAB1->FAB0 cooldown held=pinned ema=0.0595703125 score=0',
      '10 a effective FAB1->FAB0 restored',
    ])
    expect(events.every((e) => e.windowId === 'a')).toBe(true)
  })

  it('a standalone filter: a switch of the desired mode, holds by dwell, rate limit and oscillation, an oscillating switch', () => {
    const filter = new Hysteresis({ dwellTicks: 2, rateLimitTicks: 5, oscWindow: 6, clock: () => 0 })
    const events: TransitionEvent[] = []
    filter.onTransition((e) => events.push(e))
    filter.update('FAB1', 0) // dwell 1 of 2
    filter.update('FAB1', 1) // switch (the first is free)
    filter.update('FAB2', 2) // dwell 1
    filter.update('FAB2', 3) // dwell reached; 2 ticks since the switch < 5; within oscWindow 6
    filter.update('FAB2', 6) // 5 ticks: switch, within 6 of the previous: an oscillation
    filter.update('FAB0', 20) // dwell
    filter.update('FAB0', 21) // 15 ticks since: switch, not an oscillation
    filter.update('FAB1', 22) // dwell
    filter.update('FAB1', 23) // rate-limited, 2 <= 6: oscillation
    filter.update('FAB1', 24)
    filter.update('FAB1', 25)
    filter.update('FAB1', 25.5) // 4.5 ticks since the switch: the same hold, not announced again
    expect(events.map(line)).toEqual([
      '0 - held FAB2->FAB1 desired held=dwell',
      '1 - effective FAB2->FAB1 desired',
      '2 - held FAB1->FAB2 desired held=dwell',
      '3 - held FAB1->FAB2 desired held=oscillation',
      '6 - effective FAB1->FAB2 desired osc',
      '20 - held FAB2->FAB0 desired held=dwell',
      '21 - effective FAB2->FAB0 desired',
      '22 - held FAB0->FAB1 desired held=dwell',
      '23 - held FAB0->FAB1 desired held=oscillation',
    ])
    expect(filter.getMetrics()).toMatchObject({ switchCount: 3, oscCount: 1, effectiveMode: 'FAB0' })
  })

  it('a hold past the oscillation window is a plain rate-limit hold', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 10, oscWindow: 2, clock: () => 0 })
    const held: (HoldReason | null)[] = []
    filter.onTransition((e) => held.push(e.held))
    filter.update('FAB1', 0) // switch
    filter.update('FAB2', 1) // rate-limited, 1 <= 2: oscillation
    filter.update('FAB2', 3) // 3 > 2: rate limit
    filter.update('FAB2', 9) // same hold
    filter.update('FAB2', 10) // switch
    expect(held).toEqual([null, 'oscillation', 'rate-limit', null])
  })

  it('a standalone tracker: recommended changes only, with EMA, score and tick', () => {
    const tracker = new StabilityTracker({ emaDecay: 0.5, minStableTicks: 2, cooldownMaxTicks: 1 })
    const events: TransitionEvent[] = []
    tracker.onTransition((e) => events.push(e))
    tracker.tick(0.9, true) // EMA 0.5
    tracker.tick(0.9) // cool-down ends: stable 1 of 2, score 0.5, EMA 0.5
    tracker.tick(0.9) // score 1, EMA 0.75
    tracker.tick(0.9) // EMA 0.875
    expect(events.map(line)).toEqual(['1 - recommended FAB2->FAB1 cooldown ema=0.5 score=0', '4 - recommended FAB1->FAB2 ema-threshold ema=0.875 score=1'])
  })
})


describe('transition events on the reference traces', () => {
  const trackerCases = vectors.cases.filter((c): c is TrackerCase => c.kind === 'tracker')
  const hysteresisCases = vectors.cases.filter((c): c is HysteresisCase => c.kind === 'hysteresis')

  it.each(trackerCases.map((c) => [c.name, c] as const))('tracker %s: one event per change of the reference recommended mode', (_name, c) => {
    const col = (field: string): number => c.fields.indexOf(field)
    // The oracle: the reference's own per-tick rows.
    const want: string[] = []
    let previous: FabMode = 'FAB2'
    let count = 0
    for (const [k, row] of c.expected.entries()) {
      const mode = row[col('recommendedMode')] as FabMode
      const events = row[col('degradationCount')] as number
      if (mode !== previous) {
        const cooling = (row[col('isInCooldown')] as boolean) || events > count
        const reason = cooling ? 'cooldown' : 'ema-threshold'
        want.push(`${String(k + 1)} - recommended ${previous}->${mode} ${reason} ema=${String(row[col('stabilityScoreEma')])} score=${String(row[col('stabilityScore')])}`)
      }
      previous = mode
      count = events
    }
    const tracker = new StabilityTracker({ ...c.config, clock: () => 0 })
    const got: TransitionEvent[] = []
    tracker.onTransition((e) => got.push(e))
    for (const [score, degraded] of c.inputs) tracker.tick(score, degraded)
    // EMA and score match the reference to 1e-12: compare them apart, the rest exactly.
    const strip = (s: string): string => s.replace(/ ema=.*$/, '')
    expect(got.map(line).map(strip)).toEqual(want.map(strip))
    for (const [i, e] of got.entries()) {
      const row = c.expected[e.tick - 1] as unknown[]
      expect(Math.abs((e.ema as number) - (row[col('stabilityScoreEma')] as number))).toBeLessThanOrEqual(1e-12)
      expect(Math.abs((e.score as number) - (row[col('stabilityScore')] as number))).toBeLessThanOrEqual(1e-12)
      expect(e.to).toBe(modeForEma(e.ema as number))
      expect(i).toBeLessThan(want.length)
    }
  })

  it.each(hysteresisCases.map((c) => [c.name, c] as const))('hysteresis %s: one event per reference switch, one per hold', (_name, c) => {
    const col = (field: string): number => c.fields.indexOf(field)
    const want: string[] = []
    let effective: FabMode = 'FAB2'
    let lastSwitch: number | null = null
    let heldKey = ''
    for (const [tick, row] of c.expected.entries()) {
      const mode = row[col('effectiveMode')] as FabMode
      const desired = c.desired[tick] as FabMode
      if (mode !== effective) {
        const osc = c.config.maxHistory >= 2 && lastSwitch !== null && tick - lastSwitch <= c.config.oscWindow
        want.push(`${String(tick)} - effective ${effective}->${mode} desired${osc ? ' osc' : ''}`)
        effective = mode
        lastSwitch = tick
      }
      if (desired === mode) {
        heldKey = ''
        continue
      }
      const dwell = row[col('dwellCounter')] as number
      const reason: HoldReason =
        dwell < c.config.dwellTicks ? 'dwell' : c.config.maxHistory >= 2 && tick - (lastSwitch as number) <= c.config.oscWindow ? 'oscillation' : 'rate-limit'
      const key = `${reason} ${desired}`
      if (key !== heldKey) want.push(`${String(tick)} - held ${mode}->${desired} desired held=${reason}`)
      heldKey = key
    }
    const filter = new Hysteresis({ ...c.config, clock: () => 0 })
    const got: string[] = []
    filter.onTransition((e) => got.push(line(e)))
    for (const [tick, desired] of c.desired.entries()) filter.update(desired, tick)
    expect(got).toEqual(want)
  })

  it('observing changes nothing: every reference trace replays to the same state with a listener', () => {
    for (const c of vectors.cases) {
      if (c.kind === 'tracker') {
        const plain = new StabilityTracker({ ...c.config, clock: () => 0 })
        const watched = new StabilityTracker({ ...c.config, clock: () => 0 })
        watched.onTransition(() => undefined)
        for (const [score, degraded] of c.inputs) {
          plain.tick(score, degraded)
          watched.tick(score, degraded)
        }
        expect(watched.toJSON()).toEqual(plain.toJSON())
      } else {
        const plain = new Hysteresis({ ...c.config, clock: () => 0 })
        const watched = new Hysteresis({ ...c.config, clock: () => 0 })
        watched.onTransition(() => undefined)
        for (const [tick, desired] of c.desired.entries()) expect(watched.update(desired, tick)).toBe(plain.update(desired, tick))
        expect(watched.toJSON()).toEqual(plain.toJSON())
      }
    }
  })
})

describe('listeners', () => {
  it('a throwing listener is isolated and counted; the others and the ticks go on', () => {
    const options = { tracker: { emaDecay: 0.5, minStableTicks: 1 }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 }
    const windows = new StabilityWindows(options)
    const twin = new StabilityWindows(options)
    const seen: string[] = []
    windows.onTransition(() => {
      throw new Error('listener bug')
    })
    windows.onTransition((e) => seen.push(`${e.kind} ${e.to}`))
    const tracker = windows.acquire('a')?.tracker
    tracker?.onTransition(() => {
      throw new TypeError('another')
    })
    for (let i = 0; i < 20; i++) {
      const degraded = i % 7 === 0
      expect(windows.tick('a', 0.9, degraded)).toBe(true)
      twin.tick('a', 0.9, degraded)
    }
    // Degradations at ticks 1, 8 and 15 pull the EMA down; it recovers in between. A dwell of 1 follows each change.
    expect(seen).toEqual([
      'recommended FAB1', 'effective FAB1', 'recommended FAB0', 'effective FAB0', 'recommended FAB1', 'effective FAB1', 'recommended FAB2', 'effective FAB2',
      'recommended FAB0', 'effective FAB0', 'recommended FAB1', 'effective FAB1', 'recommended FAB2', 'effective FAB2', 'recommended FAB0', 'effective FAB0',
    ])
    expect(windows.listenerErrors).toBe(16)
    expect(tracker?.listenerErrors).toBe(8)
    const strip = (snapshot: ReturnType<StabilityWindows['toJSON']>): unknown => snapshot.windows
    expect(strip(windows.toJSON())).toEqual(strip(twin.toJSON()))
  })

  it('one listener takes every kind; unsubscribing stops delivery and is idempotent', () => {
    const windows = new StabilityWindows({ tracker: { emaDecay: 0.5 }, hysteresis: { dwellTicks: 2, rateLimitTicks: 0 }, clock: () => 0 })
    const kinds = new Set<string>()
    const off = windows.onTransition((e) => kinds.add(e.kind))
    windows.tick('a', 0.9, true)
    windows.tick('a', 0.9, true)
    windows.pin('a', 'FAB1')
    expect([...kinds].sort()).toEqual(['effective', 'held', 'recommended'])
    off()
    off()
    kinds.clear()
    windows.unpin('a')
    for (let i = 0; i < 10; i++) windows.tick('a', 0.9)
    expect(kinds.size).toBe(0)
  })

  it('rejects a listener that is not a function', () => {
    expect(() => new StabilityTracker().onTransition(42 as never)).toThrow(new RangeError('StabilityTracker.onTransition: listener must be a function; got number'))
  })

  it('a listener on a window filter gets its events with the window id; removed from the registry, the filter is standalone', () => {
    const windows = new StabilityWindows({ tracker: { emaDecay: 0.5 }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
    const filter = windows.acquire('w')?.hysteresis
    const seen: string[] = []
    filter?.onTransition((e) => seen.push(`${e.windowId ?? '-'} ${e.kind} ${e.to}`))
    windows.tick('w', 0.9, true)
    expect(seen).toEqual(['w effective FAB1'])
    const registrySeen: string[] = []
    windows.onTransition((e) => registrySeen.push(e.kind))
    windows.delete('w')
    filter?.update('FAB0', 5)
    expect(seen).toEqual(['w effective FAB1', '- effective FAB0'])
    expect(registrySeen).toEqual([])
  })

  it('the observed registry path ends in the same state as the fast path (property)', () => {
    const sample = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean())
    fc.assert(
      fc.property(
        fc.record({ emaDecay: fc.double({ min: 0, max: 0.99, noNaN: true }), minStableTicks: fc.integer({ min: 1, max: 10 }), cooldownMaxTicks: fc.integer({ min: 0, max: 10 }) }),
        fc.record({ dwellTicks: fc.integer({ min: 0, max: 4 }), rateLimitTicks: fc.integer({ min: 0, max: 8 }), oscWindow: fc.integer({ min: 0, max: 8 }) }),
        fc.array(sample, { maxLength: 150 }),
        (tracker, hysteresis, steps) => {
          const fast = new StabilityWindows({ tracker, hysteresis, clock: () => 0 })
          const observed = new StabilityWindows({ tracker, hysteresis, clock: () => 0 })
          let effective = 0
          observed.onTransition((e) => {
            if (e.kind === 'effective') effective++
          })
          for (const [id, score, degraded] of steps) {
            fast.tick(id, score, degraded)
            observed.tick(id, score, degraded)
          }
          expect(observed.toJSON()).toEqual(fast.toJSON())
          // Every switch is one effective event (no pins here).
          let switches = 0
          for (const w of fast) switches += w.hysteresis?.getMetrics().switchCount ?? 0
          expect(effective).toBe(switches)
        },
      ),
    )
  })
})
