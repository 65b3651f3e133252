import { Hysteresis, StabilityTracker } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import type { StabilityExporterLike } from './exporter.js'
import { maybeTick } from './hook.js'
import { attachHysteresis, maybeHyst } from './hysteresis-hook.js'

const ON = { AURIS_STABILITY_HOOK: 'on', AURIS_METRICS_EXP: 'on', AURIS_HYSTERESIS: 'on' }

describe('attachHysteresis', () => {
  it('returns null while AURIS_HYSTERESIS is off', () => {
    expect(attachHysteresis({}, { env: {} })).toBeNull()
    expect(attachHysteresis({}, { env: { AURIS_HYSTERESIS: 'false' } })).toBeNull()
  })

  it('builds a filter with the options given', () => {
    const filter = attachHysteresis({}, { env: ON, dwellTicks: 3 })
    expect(filter).toBeInstanceOf(Hysteresis)
    expect(filter?.config.dwellTicks).toBe(3)
    expect(() => attachHysteresis({}, { env: ON, dwellTicks: -1 })).toThrow(RangeError)
  })
})

describe('maybeHyst', () => {
  it('feeds the mode of the last stability metrics and returns the effective mode', () => {
    const fab = { coherenceScore: 0.9, currentTick: 0, degraded: false }
    const tracker = new StabilityTracker({ minStableTicks: 1, emaDecay: 0, cooldownMaxTicks: 0, clock: () => 0 })
    const hysteresis = new Hysteresis({ dwellTicks: 2, rateLimitTicks: 0, clock: () => 0 })
    expect(maybeHyst(fab, { hysteresis, env: ON })).toBeNull() // no metrics yet
    const modes: string[] = []
    for (let t = 1; t <= 4; t++) {
      fab.currentTick = t
      fab.degraded = t >= 2
      maybeTick(fab, tracker, { env: ON })
      modes.push(maybeHyst(fab, { hysteresis, env: ON }) ?? 'null')
    }
    // Desired FAB0 from tick 2; the dwell of 2 holds it back one tick.
    expect(modes).toEqual(['FAB2', 'FAB2', 'FAB0', 'FAB0'])
    expect(hysteresis.getMetrics()).toMatchObject({ lastSwitchTick: 3, lastSwitchAge: 1, switchCount: 1 })
  })

  it('returns null while AURIS_HYSTERESIS is off', () => {
    expect(maybeHyst({}, { hysteresis: new Hysteresis(), metrics: { recommendedMode: 'FAB1' }, env: {} })).toBeNull()
  })

  it('accepts explicit metrics and ticks, and counts ticks itself for a core without a counter', () => {
    const hysteresis = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 5, clock: () => 0 })
    expect(maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB1' }, env: ON })).toBe('FAB1')
    expect(hysteresis.getMetrics().lastSwitchTick).toBe(0)
    expect(maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB2' }, env: ON })).toBe('FAB1')
    expect(maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB2' }, tick: 5, env: ON })).toBe('FAB2')
    expect(maybeHyst({}, { hysteresis, metrics: null, env: ON })).toBeNull()
  })

  it('pushes the filter to the exporter while metrics are on, and survives a throwing one', () => {
    const seen: string[] = []
    const exporter: StabilityExporterLike = {
      update: () => undefined,
      updateHysteresis(windowId, filter) {
        seen.push(`${windowId}:${filter.effectiveMode}`)
      },
    }
    const hysteresis = new Hysteresis({ clock: () => 0 })
    maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB2' }, exporter, windowId: 'w', env: ON })
    maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB2' }, exporter, env: { AURIS_HYSTERESIS: 'on' } })
    expect(seen).toEqual(['w:FAB2'])
    const broken: StabilityExporterLike = {
      update: () => undefined,
      updateHysteresis() {
        throw new Error('down')
      },
    }
    expect(maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB2' }, exporter: broken, env: ON, onExporterError: () => undefined })).toBe('FAB2')
  })
})
