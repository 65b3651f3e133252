import { StabilityTracker } from '@auris/stability-core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { exporterFailures, type StabilityExporterLike } from './exporter.js'
import { PRODUCTION_TRACKER, attach, attachToFab, lastStabilityMetrics, maybeTick } from './hook.js'

const ON = { AURIS_STABILITY_HOOK: 'on', AURIS_METRICS_EXP: 'on', AURIS_HYSTERESIS: 'on' }

/** An exporter that records what it was given. */
function recorder(): StabilityExporterLike & { calls: [string, number][] } {
  const calls: [string, number][] = []
  return {
    calls,
    update(windowId, tracker) {
      calls.push([windowId, tracker.ticks])
    },
  }
}

describe('feature flag', () => {
  const saved = process.env.AURIS_STABILITY_HOOK
  afterEach(() => {
    if (saved === undefined) delete process.env.AURIS_STABILITY_HOOK
    else process.env.AURIS_STABILITY_HOOK = saved
  })

  it('attach returns null while AURIS_STABILITY_HOOK is off or unset', () => {
    expect(attach({}, { env: {} })).toBeNull()
    expect(attach({}, { env: { AURIS_STABILITY_HOOK: 'off' } })).toBeNull()
    expect(attachToFab({}, { env: { AURIS_STABILITY_HOOK: '0' } })).toBeNull()
  })

  it.each(['on', 'ON', 'true', '1'])('attach works with AURIS_STABILITY_HOOK=%s', (value) => {
    expect(attach({}, { env: { AURIS_STABILITY_HOOK: value } })).not.toBeNull()
  })

  it('reads process.env when no env is given, at call time', () => {
    process.env.AURIS_STABILITY_HOOK = 'on'
    expect(attach({})).not.toBeNull()
    process.env.AURIS_STABILITY_HOOK = 'off'
    expect(attach({})).toBeNull()
  })
})

describe('attach', () => {
  it('applies the config (reference names included)', () => {
    const hook = attach({}, { env: ON, decay: 0.9, minStableTicks: 50 })
    expect(hook?.tracker.config).toMatchObject({ emaDecay: 0.9, minStableTicks: 50 })
    expect(attach({}, { env: ON, emaDecay: 0.8 })?.tracker.config.emaDecay).toBe(0.8)
    expect(attach({}, { env: ON })?.tracker.config).toMatchObject({ emaDecay: 0.95, minStableTicks: 100 })
  })

  it('rejects invalid and contradictory config with a RangeError', () => {
    expect(() => attach({}, { env: ON, decay: 1.5 })).toThrow(/"emaDecay" must be a number in \[0, 1\); got 1.5/)
    expect(() => attach({}, { env: ON, decay: 0.9, emaDecay: 0.8 })).toThrow(/"decay" \(0.9\) and "emaDecay" \(0.8\) disagree/)
  })

  it('tick reads the core, ticks the tracker and returns whether the sample was used, as tracker.tick() does', () => {
    const fab = { coherenceScore: 0.9, mode: 'FAB2', prevMode: 'FAB2', degraded: false }
    const hook = attach(fab, { env: ON, minStableTicks: 10, clock: () => 0 })!
    expect(hook.tick()).toBe(true)
    const m1 = hook.tracker.getMetrics()
    expect(m1).toMatchObject({ stableTicks: 1, degradationCount: 0, stabilityScore: 0.1 })
    fab.degraded = true
    fab.coherenceScore = 0.4
    expect(hook.tick()).toBe(true)
    const m2 = hook.tracker.getMetrics()
    expect(m2).toMatchObject({ stableTicks: 0, degradationCount: 1, isInCooldown: true })
    expect(lastStabilityMetrics(fab)).toEqual(m2)
  })

  it('runs the reference probe scenario to the reference figures', () => {
    const fab = { coherenceScore: 0.9, mode: 'FAB2', prevMode: 'FAB2', degraded: false }
    const hook = attach(fab, { env: ON, decay: 0.95, minStableTicks: 30, clock: () => 0 })!
    hook.tick()
    for (let t = 2; t <= 100; t++) {
      fab.prevMode = fab.mode
      fab.degraded = t === 20 || t === 50 || t === 80
      if (fab.degraded) {
        fab.coherenceScore = 0.4
        fab.mode = fab.mode === 'FAB2' ? 'FAB1' : 'FAB0'
      } else fab.coherenceScore = Math.min(0.9, fab.coherenceScore + 0.05)
      hook.tick()
    }
    expect(hook.tracker.getMetrics()).toMatchObject({ stabilityScoreEma: 0.3040291910375369, stableTicks: 13, degradationCount: 3, recommendedMode: 'FAB0' })
  })

  it('counts invalid scores instead of inventing one', () => {
    const fab: Record<string, unknown> = { coherenceScore: '0.9' }
    const hook = attach(fab, { env: ON })!
    hook.tick()
    fab.coherenceScore = null
    hook.tick()
    fab.coherenceScore = Number.NaN
    hook.tick()
    expect(hook.tracker.invalidSamples).toBe(2)
    expect(hook.tracker.ticks).toBe(1)
  })

  it('pushes to the exporter while metrics are on, under the window id', () => {
    const exporter = recorder()
    const hook = attach({}, { env: ON, exporter, windowId: 'stream' })!
    hook.tick()
    hook.tick('other')
    expect(exporter.calls).toEqual([
      ['stream', 1],
      ['other', 2],
    ])
    const off = recorder()
    attach({}, { env: { AURIS_STABILITY_HOOK: 'on' }, exporter: off })!.tick()
    expect(off.calls).toEqual([])
  })
})

describe('attachToFab', () => {
  it('uses the production configuration', () => {
    const tracker = attachToFab({}, { env: ON })
    expect(tracker).toBeInstanceOf(StabilityTracker)
    expect(tracker?.config).toMatchObject(PRODUCTION_TRACKER)
    expect(PRODUCTION_TRACKER).toEqual({ minStableTicks: 100, emaDecay: 0.95 })
  })
})

describe('maybeTick', () => {
  it('ticks only when the tick counter is a multiple of tickInterval', () => {
    const tracker = new StabilityTracker()
    const fab = { currentTick: 0, coherenceScore: 0.9 }
    const results: (number | null)[] = []
    for (let t = 0; t < 10; t++) {
      fab.currentTick = t
      results.push(maybeTick(fab, tracker, { tickInterval: 3 })?.ticks ?? null)
    }
    expect(results).toEqual([1, null, null, 2, null, null, 3, null, null, 4])
  })

  it('ticks every call by default, and without a tick counter', () => {
    const tracker = new StabilityTracker()
    expect(maybeTick({ current_tick: 5 }, tracker)?.ticks).toBe(1)
    expect(maybeTick({}, tracker, { tickInterval: 4 })?.ticks).toBe(2)
  })

  it('rejects a tickInterval that is not a positive integer', () => {
    const tracker = new StabilityTracker()
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => maybeTick({}, tracker, { tickInterval: bad })).toThrow(/"tickInterval" must be an integer >= 1/)
    }
  })

  it('works unchanged on a state object received as JSON from a Python core', () => {
    const state = JSON.parse('{"coherence_score": 0.7, "_prev_mode": "FAB2", "mode": "FAB1", "current_tick": 12}')
    const tracker = new StabilityTracker({ clock: () => 0 })
    const m = maybeTick(state, tracker, { tickInterval: 4 })
    expect(m).toMatchObject({ degradationCount: 1, isInCooldown: true, ticks: 1 })
  })

  it('never lets a throwing exporter break the loop; counts it and reports once', () => {
    const report = vi.fn()
    const broken: StabilityExporterLike = {
      update() {
        throw new Error('registry gone')
      },
    }
    const tracker = new StabilityTracker()
    for (let i = 0; i < 5; i++) {
      expect(maybeTick({}, tracker, { exporter: broken, env: ON, onExporterError: report })).not.toBeNull()
    }
    expect(tracker.ticks).toBe(5)
    expect(exporterFailures(broken)).toBe(5)
    expect(report).toHaveBeenCalledTimes(1)
    expect((report.mock.calls[0]?.[0] as Error).message).toBe('registry gone')
  })

  it('warns once on the console by default, and survives a reporter that throws', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const broken: StabilityExporterLike = {
      update() {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- some code throws non-Errors; the hook must cope
        throw 'plain string'
      },
    }
    const tracker = new StabilityTracker()
    maybeTick({}, tracker, { exporter: broken, env: ON })
    maybeTick({}, tracker, { exporter: broken, env: ON })
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn.mock.calls[0]?.[0]).toMatch(/exporter failed: plain string/)
    warn.mockRestore()
    const other: StabilityExporterLike = {
      update() {
        throw new Error('x')
      },
    }
    expect(() =>
      maybeTick({}, tracker, {
        exporter: other,
        env: ON,
        onExporterError: () => {
          throw new Error('reporter broken too')
        },
      }),
    ).not.toThrow()
    expect(exporterFailures(other)).toBe(1)
  })

  it('leaves the exporter alone while metrics are off', () => {
    const exporter = recorder()
    maybeTick({}, new StabilityTracker(), { exporter, env: { AURIS_METRICS_EXP: 'off' } })
    expect(exporter.calls).toEqual([])
  })

  it('keeps exporters separate when counting failures', () => {
    expect(exporterFailures(recorder())).toBe(0)
  })
})
