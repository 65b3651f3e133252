import { Hysteresis, StabilityTracker, StabilityWindows, type FabMode } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { attach, attachHysteresis, maybeHyst } from './index.js'
import { steer, type SteerDecision } from './steer.js'

const ON = { AURIS_STABILITY_HOOK: 'on', AURIS_HYSTERESIS: 'on' }

describe('steer', () => {
  it('applies every effective change of a registry window to core.mode, and the starting mode at once', () => {
    const windows = new StabilityWindows({ tracker: { emaDecay: 0.5, minStableTicks: 1 }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
    windows.tick('global', 0.9)
    const core = { mode: 'FAB1' as unknown }
    const steering = steer(core, { source: windows })
    expect(core.mode).toBe('FAB2')
    const modes: unknown[] = []
    for (const degraded of [true, false, false, false, false]) {
      windows.tick('global', 0.9, degraded)
      windows.tick('other', 0.1, true) // another window's changes are not ours
      modes.push(core.mode)
    }
    // EMA 0.5 (FAB1), 0.25 (FAB0) in the cool-down, then 0.625 (FAB1), 0.8125 (FAB2).
    expect(modes).toEqual(['FAB1', 'FAB0', 'FAB1', 'FAB2', 'FAB2'])
    expect(steering.applied).toBe(5)
    expect(steering.last).toMatchObject({ mode: 'FAB2', applied: true, cause: { kind: 'effective', windowId: 'global', from: 'FAB1', to: 'FAB2' } })
  })

  it('applies a pin at once and the filtered mode when it ends by itself (injected clock)', () => {
    let now = 0
    const windows = new StabilityWindows({ clock: () => now })
    windows.tick('global', 0.9)
    const core = { mode: 'FAB2' as unknown }
    steer(core, { source: windows })
    windows.pin('global', 'FAB0', { forMs: 1000 })
    expect(core.mode).toBe('FAB0')
    now = 999
    windows.tick('global', 0.9)
    expect(core.mode).toBe('FAB0')
    now = 1000
    windows.tick('global', 0.9)
    expect(core.mode).toBe('FAB2')
  })

  it('dry-run decides like a live steering, exposes every decision, and applies nothing', () => {
    const windows = new StabilityWindows({ tracker: { emaDecay: 0.5, minStableTicks: 1 }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
    windows.tick('global', 0.9)
    const live = { mode: 'FAB2' as unknown }
    const dry = { mode: 'FAB2' as unknown }
    const calls: FabMode[] = []
    const decisions: SteerDecision[] = []
    steer(live, { source: windows })
    const steering = steer(dry, { source: windows, dryRun: true, apply: (m) => calls.push(m), onDecision: (d) => decisions.push(d) })
    const exported: string[] = []
    for (const degraded of [true, false, false, false]) {
      windows.tick('global', 0.9, degraded)
      exported.push(windows.get('global')?.hysteresis?.effectiveMode ?? '')
    }
    windows.pin('global', 'FAB0')
    expect(dry.mode).toBe('FAB2')
    expect(calls).toEqual([])
    expect(steering.applied).toBe(0)
    expect(steering.dryRun).toBe(true)
    // What dry-run would have applied is exactly what the live steering applied.
    expect(decisions.map((d) => d.mode)).toEqual(['FAB2', 'FAB1', 'FAB0', 'FAB1', 'FAB2', 'FAB0'])
    expect(decisions.every((d) => !d.applied)).toBe(true)
    expect(live.mode).toBe('FAB0')
    // The filter and its metrics go on as usual.
    expect(exported).toEqual(['FAB1', 'FAB0', 'FAB1', 'FAB2'])
    expect(windows.get('global')?.hysteresis?.getMetrics()).toMatchObject({ effectiveMode: 'FAB0', switchCount: 4 })
  })

  it('a callback applier and a standalone filter, as the hook builds them', () => {
    const fab = { coherenceScore: 0.9, degraded: false }
    const hook = attach(fab, { env: ON, emaDecay: 0.5, minStableTicks: 1 })
    const hysteresis = attachHysteresis(fab, { env: ON, dwellTicks: 1, rateLimitTicks: 0 })
    if (hook === null || hysteresis === null) throw new Error('flags are on')
    const applied: FabMode[] = []
    const steering = steer(fab, { source: hysteresis, apply: (m) => applied.push(m) })
    for (const degraded of [true, false, false, false]) {
      fab.degraded = degraded
      hook.tick()
      maybeHyst(fab, { hysteresis, env: ON })
    }
    expect(applied).toEqual(['FAB2', 'FAB1', 'FAB0', 'FAB1', 'FAB2'])
    steering.stop()
    steering.stop()
    hysteresis.pin('FAB0')
    expect(applied).toHaveLength(5)
  })

  it('isolates and counts an applier or a decision callback that throws', () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    const steering = steer(
      {},
      {
        source: filter,
        apply: () => {
          throw new Error('core refused')
        },
        onDecision: () => {
          throw new Error('log down')
        },
      },
    )
    expect(filter.update('FAB1', 1)).toBe('FAB1')
    expect(filter.update('FAB0', 2)).toBe('FAB0')
    expect(steering.failures).toBe(6)
    expect(steering.applied).toBe(0)
    expect(steering.last).toMatchObject({ mode: 'FAB0', applied: false })
  })

  it('does not count a core already in the mode as applied', () => {
    const filter = new Hysteresis({ clock: () => 0 })
    const core = { mode: 'FAB2' }
    const steering = steer(core, { source: filter })
    expect(steering.applied).toBe(0)
    expect(steering.last).toEqual({ mode: 'FAB2', applied: false, cause: null })
  })

  it('rejects bad options with a RangeError naming field and value', () => {
    const windows = new StabilityWindows()
    expect(() => steer({}, { source: new StabilityTracker() as never })).toThrow(/steer: option "source" must be a Hysteresis or a StabilityWindows/)
    expect(() => steer({}, { source: new StabilityWindows({ hysteresis: false }) })).toThrow(/option "source" must be a registry with filters/)
    expect(() => steer({}, { source: windows, dryRun: 'yes' as never })).toThrow(new RangeError('steer: option "dryRun" must be a boolean; got "yes" (string)'))
    expect(() => steer({}, { source: windows, apply: 3 as never })).toThrow(/option "apply" must be a function/)
    expect(() => steer({}, { source: new Hysteresis(), windowId: 'a' })).toThrow(/option "windowId" must be absent/)
    expect(() => steer(null as never, { source: windows })).toThrow(/option "core" must be an object/)
    expect(() => steer({}, { source: windows, dry: true } as never)).toThrow(/unknown option "dry"/)
  })
})
