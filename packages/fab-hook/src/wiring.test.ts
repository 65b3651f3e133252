import { Hysteresis, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import type { StabilityExporterLike } from './exporter.js'
import { attach, attachToFab, lastStabilityMetrics, maybeTick } from './hook.js'
import { attachHysteresis, maybeHyst } from './hysteresis-hook.js'

const ON = { AURIS_STABILITY_HOOK: 'on', AURIS_METRICS_EXP: 'on', AURIS_HYSTERESIS: 'on' }

function recorder(): { exporter: StabilityExporterLike; seen: string[] } {
  const seen: string[] = []
  return {
    seen,
    exporter: {
      update(windowId, tracker) {
        seen.push(`${windowId}:${String(tracker.ticks)}`)
      },
    },
  }
}

describe('attach wiring', () => {
  it('resolves the metrics flag once at attach, or asks metricsEnabled before each push', () => {
    const env: Record<string, string> = { ...ON }
    const once = recorder()
    const hook = attach({}, { env, exporter: once.exporter, clock: () => 0 })
    env.AURIS_METRICS_EXP = 'off'
    hook?.tick()
    expect(once.seen).toEqual(['global:1'])
    let on = false
    const asked = recorder()
    const dynamic = attach({}, { env: ON, exporter: asked.exporter, metricsEnabled: () => on, clock: () => 0 })
    dynamic?.tick()
    on = true
    dynamic?.tick('other')
    expect(asked.seen).toEqual(['other:2'])
    const throwing = attach({}, {
      env: ON,
      exporter: asked.exporter,
      metricsEnabled: () => {
        throw new Error('flag store down')
      },
    })
    expect(throwing?.tick()).toBe(true)
    const off = attach({}, { env: ON, exporter: asked.exporter, metricsEnabled: false })
    off?.tick()
    expect(asked.seen).toEqual(['other:2'])
    expect(() => attach({}, { env: ON, metricsEnabled: 'yes' as unknown as boolean })).toThrow(/option "metricsEnabled" must be a boolean or a function; got "yes" \(string\)/)
  })

  it('feeds a given tracker, and refuses strict objects and options that clash', () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    const hook = attach({ coherenceScore: 0.7 }, { env: ON, tracker })
    expect(hook?.tick()).toBe(true)
    expect(tracker.ticks).toBe(1)
    expect(hook?.tracker).toBe(tracker)
    expect(() => attach({}, { env: ON, tracker, minStableTicks: 5 })).toThrow(/option "minStableTicks" cannot be combined with "tracker"/)
    expect(() => attach({}, { env: ON, tracker: new StabilityTracker({ strict: true }) })).toThrow(/option "tracker" must be a tracker without strict/)
    expect(() => attach({}, { env: ON, windows: new StabilityWindows({ strict: true }) })).toThrow(/option "windows" must be a registry without strict/)
    expect(() => attach({}, { env: ON, windows: new StabilityWindows(), tracker })).toThrow(/pass "windows" or "tracker", not both/)
    expect(() => attach({}, { env: ON, windows: new StabilityWindows(), decay: 0.9 })).toThrow(/option "decay" cannot be combined with "windows"/)
    expect(() => attach({}, { env: ON, windows: new StabilityWindows(), windowId: 'a\nb' })).toThrow(/option "windowId" must be a valid window id/)
    expect(() => attach({}, { env: ON, strict: true } as never)).toThrow(/option "strict" must be false or absent/)
    expect(() => attachHysteresis({}, { env: ON, strict: true } as never)).toThrow(/option "strict" must be false or absent/)
  })

  it('a registry hook creates its window again after eviction, and drops samples while the registry is full', () => {
    let now = 0
    const windows = new StabilityWindows({ clock: () => now, maxWindows: 1, idleTtlMs: 1000 })
    const fab = { coherenceScore: 0.9 }
    const hook = attach(fab, { env: ON, windows, windowId: 'w' })
    if (hook === null) throw new Error('hook off')
    expect(hook.tick()).toBe(true)
    const first = hook.tracker
    windows.delete('w')
    expect(hook.tick()).toBe(true)
    expect(hook.tracker).not.toBe(first)
    expect(windows.get('w')?.tracker.ticks).toBe(1)
    windows.delete('w')
    windows.tick('squatter', 0.9)
    expect(hook.tick()).toBe(false)
    expect(windows.rejections.capacity).toBe(1)
    expect(() => attach(fab, { env: ON, windows, windowId: 'other' })).toThrow(/the registry refused window "other": 1 windows \(maxWindows\) are alive/)
    now = 5000
    windows.sweep()
    windows.sweep()
    expect(hook.tick()).toBe(true)
    expect(hook.tick()).toBe(true)
    expect(hook.tracker.ticks).toBe(2)
  })

  it('remembers the tracker for maybeHyst and lastStabilityMetrics', () => {
    const fab = { coherenceScore: 0.9 }
    expect(lastStabilityMetrics(fab)).toBeUndefined()
    const tracker = attachToFab(fab, { env: ON, clock: () => 0 })
    expect(tracker).not.toBeNull()
    const hook = attach(fab, { env: ON, clock: () => 0 })
    hook?.tick()
    expect(lastStabilityMetrics(fab)?.ticks).toBe(1)
    const filter = new Hysteresis({ clock: () => 0 })
    expect(maybeHyst(fab, { hysteresis: filter, env: ON })).toBe('FAB2')
    // metrics that throw when read are as good as none
    const hostile = Object.defineProperty({}, 'recommendedMode', {
      get() {
        throw new Error('hostile')
      },
    }) as { recommendedMode: 'FAB1' }
    expect(maybeHyst(fab, { hysteresis: filter, metrics: hostile, env: ON })).toBeNull()
  })

  it('maybeTick contains a strict tracker and a strict filter is contained by maybeHyst', () => {
    const strict = new StabilityTracker({ strict: true, clock: () => 0 })
    expect(maybeTick(null, strict, { env: ON })?.invalidSamples).toBe(0)
    expect(strict.ticks).toBe(0)
    expect(() => maybeTick({}, JSON.parse('{}') as StabilityTracker, { env: ON })).toThrow(/option "tracker" must be a StabilityTracker/)
    const filter = new Hysteresis({ strict: true, clock: () => 0 })
    expect(maybeHyst({}, { hysteresis: filter, metrics: { recommendedMode: 'FAB9' as 'FAB1' }, env: ON })).toBe('FAB2')
  })
})

describe('attach refuses, at attach, options that would fail on every tick', () => {
  it('a window id the exporter cannot label with, an exporter without update, a reporter that is not a function', () => {
    const exporter = { update: (): void => undefined }
    expect(() => attach({}, { env: ON, exporter, windowId: 'a\u0000b' })).toThrow('attach: option "windowId" must be a valid window id (it contains a control character (U+0000)); got "a\\u0000b" (string)')
    expect(() => attach({}, { env: ON, windowId: 5 as never })).toThrow('attach: option "windowId" must be a valid window id (it is not a string); got 5')
    expect(() => attach({}, { env: ON, windowId: 'x'.repeat(129) })).toThrow(/attach: option "windowId" must be a valid window id \(it is 129 characters long \(at most 128\)\)/)
    expect(() => attach({}, { env: ON, exporter: 5 as never })).toThrow('attach: option "exporter" must be an object with an update(windowId, tracker) method; got 5')
    expect(() => attach({}, { env: ON, exporter: {} as never })).toThrow('attach: option "exporter" must be an object with an update(windowId, tracker) method; got an object')
    expect(() => attach({}, { env: ON, exporter, onExporterError: 'log' as never })).toThrow('attach: option "onExporterError" must be a function; got "log" (string)')
    expect(attach({}, { env: ON, exporter, windowId: 'stream', onExporterError: () => undefined })?.tick()).toBe(true)
  })
})

describe('a hook with a broken clock', () => {
  it('never throws into the loop: a clock that throws or gives a non-number reads as NaN (time holds)', () => {
    const clocks: (() => number)[] = [
      () => {
        throw new Error('clock')
      },
      () => 5n as never,
      () => Symbol('t') as never,
    ]
    for (const clock of clocks) {
      const hook = attach({ coherenceScore: 0.4, degraded: true }, { env: ON, clock })
      if (hook === null) throw new Error('hook off')
      expect(hook.tick()).toBe(true)
      expect(hook.tick()).toBe(true)
      const m = hook.tracker.getMetrics()
      expect([m.degradationCount, m.degradationEventsPerHour, m.ticks]).toEqual([2, 2, 2])
    }
    expect(() => attach({}, { env: ON, clock: 5 as never })).toThrow('StabilityTracker: option "clock" must be a function; got 5')
  })
})
