import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { heapAfterGc, record } from './figures.js'

describe('5. cardinality attack', () => {
  it('10^6 distinct ids: live windows never exceed maxWindows, refusals counted and exported, memory and scrape bounded', async () => {
    const maxWindows = 1000
    const windows = new StabilityWindows({ maxWindows })
    const exporter = createStabilityExporter({ maxWindows })
    exporter.track(windows)
    const rssBefore = process.memoryUsage().rss
    const heapBefore = heapAfterGc()
    let maxLive = 0
    const started = performance.now()
    for (let i = 0; i < 1_000_000; i++) {
      windows.tick(`attacker-${String(i)}`, 0.5)
      if ((i & 0x3fff) === 0) maxLive = Math.max(maxLive, windows.size)
    }
    const offerMs = performance.now() - started
    maxLive = Math.max(maxLive, windows.size)
    expect(maxLive).toBeLessThanOrEqual(maxWindows)
    expect(windows.size).toBe(maxWindows)
    expect(windows.rejections.capacity).toBe(1_000_000 - maxWindows)
    // Scrape time with maxWindows windows, within the exporter's goal (4 ms for 1,000).
    for (let i = 0; i < 20; i++) await exporter.metrics()
    const times: number[] = []
    let text = ''
    for (let i = 0; i < 51; i++) {
      const t0 = performance.now()
      text = await exporter.metrics()
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    expect(text).toContain(`atlas_windows_rejected_total{reason="capacity"} ${String(1_000_000 - maxWindows)}`)
    expect(text).toContain(`atlas_windows ${String(maxWindows)}`)
    const heapGrowth = heapAfterGc() - heapBefore
    const rssGrowth = process.memoryUsage().rss - rssBefore
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024)
    expect(times[25]).toBeLessThan(20)
    record('cardinality', {
      idsOffered: 1_000_000,
      maxLiveWindows: maxLive,
      refused: windows.rejections.capacity,
      offerMs: Math.round(offerMs),
      heapGrowthBytes: heapGrowth,
      rssGrowthBytes: rssGrowth,
      scrapeMedianMs: Number((times[25] ?? 0).toFixed(2)),
      scrapeP90Ms: Number((times[45] ?? 0).toFixed(2)),
    })
  })
})
