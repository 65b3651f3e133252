import { attach } from '@auris/fab-hook'
import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { heapAfterGc, record } from './figures.js'

/** Cores the hook cannot read, as a FAB loop might hand them over. */
function hostile(i: number): unknown {
  switch (i % 5) {
    case 0:
      return JSON.parse('null')
    case 1:
      return new Proxy(
        {},
        {
          get() {
            throw new Error('core crashed')
          },
        },
      )
    case 2: {
      const { proxy, revoke } = Proxy.revocable({}, {})
      revoke()
      return proxy
    }
    case 3:
      return Object.defineProperty({}, 'st', {
        get() {
          throw new Error('getter crashed')
        },
      })
    default:
      return { coherence_score: 'high' }
  }
}

describe('2b. hostile cores through the hook', () => {
  it('10^6 ticks alternating a sound core and hostile ones: no throw, every hostile sample counted and exported, heap flat', async () => {
    let now = 0
    const windows = new StabilityWindows({ clock: () => now })
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const sound = { coherenceScore: 0.9, degraded: false }
    const good = attach(sound, { windows, windowId: 'hook', env: { AURIS_STABILITY_HOOK: 'on' } })
    if (good === null) throw new Error('hook off')
    // One hook per hostile shape, attached once, as a loop would.
    const bad = Array.from({ length: 5 }, (_, i) => attach(hostile(i) as never, { windows, windowId: 'hook', env: { AURIS_STABILITY_HOOK: 'on' } }))
    for (let i = 0; i < 10_000; i++) bad[i % 5]?.tick()
    const warm = heapAfterGc()
    let hostileFeeds = 10_000
    for (let i = 0; i < 1_000_000; i++) {
      now += 1
      if (i % 2 === 0) {
        sound.degraded = i % 1000 === 0
        good.tick()
      } else {
        bad[i % 5]?.tick()
        hostileFeeds++
      }
    }
    const after = heapAfterGc()
    const tracker = windows.get('hook')?.tracker
    expect(tracker?.invalidSamples).toBe(hostileFeeds)
    expect(tracker?.ticks).toBe(500_000)
    expect(tracker?.degradationCount).toBe(1000)
    const text = await exporter.metrics()
    expect(text).toContain(`atlas_invalid_samples_total{window_id="hook"} ${String(hostileFeeds)}`)
    expect(after - warm).toBeLessThan(1024 * 1024)
    record('hostile-cores', { feeds: 1_010_000, hostileFeeds, invalidSamplesExported: hostileFeeds, heapGrowthBytes: after - warm })
  })
})
