import { StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { heapAfterGc, record } from './figures.js'

describe('1. long runs', () => {
  it('10^7 ticks with a degradation every other tick: no exception, finite metrics, saturated cool-down, bounded heap', () => {
    let now = 0
    const tracker = new StabilityTracker({ clock: () => now })
    const before = heapAfterGc()
    let peak = before
    const started = performance.now()
    for (let i = 0; i < 10_000_000; i++) {
      now += 1
      // A degradation every other tick, the last tick being one.
      tracker.tick(i % 2 === 1 ? 0.2 : 0.9, i % 2 === 1)
      if ((i & 0xfffff) === 0) peak = Math.max(peak, process.memoryUsage().heapUsed)
    }
    const elapsed = performance.now() - started
    const m = tracker.getMetrics()
    const after = heapAfterGc()
    for (const [key, value] of Object.entries(m)) if (typeof value === 'number') expect(Number.isFinite(value), key).toBe(true)
    expect(m.cooldownRemaining).toBe(tracker.config.cooldownMaxTicks)
    expect(m.degradationCount).toBeGreaterThanOrEqual(5_000_000)
    expect(m.stabilityScoreEma).toBe(0)
    // Events at every even ms up to 10^7: exactly 1,800,001 of them in [6,400,000, 10,000,000]. The figure counts
    // 60 one-minute buckets plus the current one, from 6,360,000: 20,000 more, within the bound of one bucket (30,000 events).
    const exact = 1_800_001
    expect(m.degradationEventsPerHour).toBe(1_820_001)
    expect(m.degradationEventsPerHour - exact).toBeGreaterThanOrEqual(0)
    expect(m.degradationEventsPerHour - exact).toBeLessThanOrEqual(30_000)
    const growth = after - before
    expect(growth).toBeLessThan(1024 * 1024)
    record('long-run', {
      ticks: 10_000_000,
      degradations: m.degradationCount,
      eventsPerHour: m.degradationEventsPerHour,
      eventsPerHourExact: exact,
      cooldownRemaining: m.cooldownRemaining,
      heapGrowthBytes: growth,
      peakHeapGrowthBytes: peak - before,
      msPerMillionTicks: Math.round(elapsed / 10),
    })
  })

  it('a 1,000-window registry through 2·10^6 ticks keeps its memory flat after warm-up', () => {
    let now = 0
    const windows = new StabilityWindows({ clock: () => now })
    const ids = Array.from({ length: 1000 }, (_, i) => `w${String(i)}`)
    for (let i = 0; i < 100_000; i++) windows.tick(ids[i % 1000] as string, 0.9, i % 3 === 0)
    const warm = heapAfterGc()
    for (let i = 0; i < 2_000_000; i++) {
      now += 1
      windows.tick(ids[i % 1000] as string, i % 5 === 0 ? 0.3 : 0.9, i % 3 === 0)
    }
    const after = heapAfterGc()
    expect(windows.size).toBe(1000)
    expect(after - warm).toBeLessThan(20 * 1024 * 1024)
    record('long-run-registry', { windows: 1000, ticks: 2_000_000, heapGrowthAfterWarmupBytes: after - warm })
  })
})
