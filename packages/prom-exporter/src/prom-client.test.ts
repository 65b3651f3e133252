import { readFileSync } from 'node:fs'
import { StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { AggregatorRegistry, Counter, Gauge, Registry, type OpenMetricsContentType, type RegistryContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createStabilityExporter as createNeutral } from './exporter.js'
import { createStabilityExporter, existingExporter, registerExporter } from './prom-client.js'
import { FAMILIES } from './names.js'
import { parseExposition } from './testing/exposition.js'
import { pythonParse } from './testing/parsers.js'

function ticked(): StabilityWindows {
  const windows = new StabilityWindows({ tracker: { minStableTicks: 5, scoreBuckets: [0, 0.5, 0.8, 1] }, hysteresis: { dwellTicks: 2, rateLimitTicks: 0 }, clock: () => 0 })
  for (let i = 0; i < 30; i++) {
    windows.tick('global', i % 8 === 0 ? 0.3 : 0.9, i === 10)
    windows.tick('stream', 0.8)
  }
  return windows
}

const OM: OpenMetricsContentType = Registry.OPENMETRICS_CONTENT_TYPE

describe('registries', () => {
  it('uses a new registry by default, never the global one', async () => {
    const { register } = await import('prom-client')
    const exporter = createStabilityExporter()
    expect(exporter.registry).toBeInstanceOf(Registry)
    expect(exporter.registry === register).toBe(false)
    expect(register.getSingleMetric('atlas_stability_score')).toBeUndefined()
    expect(exporter.contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
  })

  it('refuses a second exporter on the same registry and prefix with a message that says what to do', () => {
    const registry = new Registry()
    const first = createStabilityExporter({ registry })
    expect(() => createStabilityExporter({ registry })).toThrow(/already has a stability exporter with prefix "atlas_".*Reuse that exporter/)
    expect(existingExporter(registry, 'atlas_')).toBe(first)
    expect(createStabilityExporter({ registry, prefix: 'other_' }).names.stability_score).toBe('other_stability_score')
    first.dispose()
    first.dispose()
    expect(existingExporter(registry, 'atlas_')).toBeUndefined()
    expect(() => createStabilityExporter({ registry })).not.toThrow()
  })

  it('refuses a registry that already has a metric with one of its names, and a registry that is not one', () => {
    const registry = new Registry()
    new Gauge({ name: 'atlas_stable_ticks', help: 'mine', registers: [registry] })
    expect(() => createStabilityExporter({ registry })).toThrow(/already has a metric named "atlas_stable_ticks"/)
    expect(registry.getMetricsAsArray()).toHaveLength(1)
    expect(() => createStabilityExporter({ registry: {} as unknown as Registry })).toThrow(/must be a prom-client Registry/)
    expect(() => registerExporter(createNeutral(), {} as unknown as Registry)).toThrow(/must be a prom-client Registry/)
    expect(() => createStabilityExporter({ registry, maxWindows: -1 })).toThrow(/"maxWindows"/)
  })

  it('registers real prom-client metrics (no duck-typed objects) with a cluster aggregator per family', () => {
    const exporter = createStabilityExporter()
    const metrics = exporter.registry.getMetricsAsArray()
    expect(metrics).toHaveLength(FAMILIES.length)
    for (const m of metrics) expect(m instanceof Gauge || m instanceof Counter).toBe(true)
    const aggregator = (name: string): string => (exporter.registry.getSingleMetric(name) as unknown as { aggregator: string }).aggregator
    expect(aggregator('atlas_stability_score_ema')).toBe('min')
    expect(aggregator('atlas_recommended_fab_mode')).toBe('min')
    expect(aggregator('atlas_hyst_effective_mode')).toBe('min')
    expect(aggregator('atlas_degradation_events_per_hour')).toBe('max')
    expect(aggregator('atlas_degradation_count_total')).toBe('sum')
    for (const suffix of ['bucket', 'sum', 'count']) expect(aggregator(`atlas_stability_score_${suffix}`)).toBe('sum')
  })

  it('reports the score histogram families as untyped (unknown in OpenMetrics), with their window_id and le labels', async () => {
    const exporter = createStabilityExporter()
    const windows = ticked()
    exporter.track(windows)
    const json = await exporter.registry.getMetricsAsJSON()
    const bucket = json.find((m) => m.name === 'atlas_stability_score_bucket')
    expect(String(bucket?.type)).toBe('untyped')
    // global: 30 ticks, a degradation every 8 (the drop to 0.3) and at tick 11: mostly cool-down, score 0.
    const global = bucket?.values.filter((v) => v.labels.window_id === 'global').map((v) => [v.labels.le, v.value])
    expect(global).toEqual([
      ['0', 20],
      ['0.5', 24],
      ['0.8', 26],
      ['1', 30],
      ['+Inf', 30],
    ])
    expect(global?.map(([, v]) => v)).toEqual(windows.get('global')?.tracker.getScoreHistogram()?.counts)
    exporter.registry.setContentType(OM)
    expect(await exporter.registry.metrics()).toContain('# TYPE atlas_stability_score_bucket unknown\natlas_stability_score_bucket{window_id="global",le="0"} 20\n')
  })

  it('uses prom-client’s public API only: no private field is read', () => {
    const source = readFileSync(new URL('./prom-client.ts', import.meta.url), 'utf8')
    expect(source.match(/\._[a-zA-Z]/g)).toBeNull()
  })
})

describe('byte identity with prom-client’s own rendering (compat)', () => {
  it('in the text format, with default labels matched by constant labels', async () => {
    for (const labels of [undefined, { service: 'fab', zone: 'a"b\\c' }]) {
      const registry = new Registry()
      if (labels !== undefined) registry.setDefaultLabels(labels)
      const exporter = createStabilityExporter({ registry, ...(labels === undefined ? {} : { constLabels: labels }) })
      exporter.track(ticked())
      const ours = await exporter.metrics()
      expect(ours).toBe(await registry.metrics())
      expect(exporter.render()).toBe(ours)
    }
  })

  it('with constant labels and no default labels: the registry carries them as the exporter renders them', async () => {
    const registry = new Registry()
    const exporter = createStabilityExporter({ registry, constLabels: { service: 'fab', zone: 'a"b' } })
    exporter.track(ticked())
    const theirs = await registry.metrics()
    expect(theirs).toBe(exporter.render())
    expect(theirs).toContain('\natlas_stable_ticks{window_id="global",service="fab",zone="a\\"b"} ')
    expect(theirs).toContain('\natlas_windows{service="fab",zone="a\\"b"} 2\n')
    expect(theirs).toContain('\natlas_windows_rejected_total{reason="capacity",service="fab",zone="a\\"b"} 0\n')
  })

  it('in OpenMetrics (prom-client writes no # UNIT lines), and dispose() still works after an OpenMetrics scrape', async () => {
    const registry = new Registry<OpenMetricsContentType>()
    registry.setContentType(OM)
    const exporter = createStabilityExporter({ registry: registry as unknown as Registry<RegistryContentType> })
    exporter.track(ticked())
    const theirs = await registry.metrics()
    expect(exporter.render('openmetrics').replace(/\n# UNIT [^\n]*/g, '')).toBe(theirs)
    expect(pythonParse([{ text: theirs, format: 'openmetrics' }])[0]?.ok).toBe(true)
    // prom-client renamed the counters in place during that render; dispose() must still find them.
    exporter.dispose()
    expect(registry.getMetricsAsArray()).toHaveLength(0)
    const again = createStabilityExporter({ registry: registry as unknown as Registry<RegistryContentType> })
    expect(again.registry.getMetricsAsArray()).toHaveLength(FAMILIES.length)
  })

  it('leaves other metrics of the registry alone and renders them after the families', async () => {
    const registry = new Registry()
    const requests = new Counter({ name: 'app_requests_total', help: 'Requests.', labelNames: ['route'], registers: [registry] })
    requests.inc({ route: '/a"b' })
    const exporter = createStabilityExporter({ registry })
    exporter.track(ticked())
    const all = parseExposition(await registry.metrics())
    expect(all.get('app_requests_total')?.samples).toEqual([{ labels: { route: '/a"b' }, value: 1 }])
    expect(all.get('atlas_windows')?.samples[0]?.value).toBe(2)
    exporter.dispose()
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['app_requests_total'])
  })

  it('answers single-family requests and resets consistently', async () => {
    const exporter = createStabilityExporter()
    exporter.track(ticked())
    expect(await exporter.registry.getSingleMetricAsString('atlas_windows')).toMatch(/^atlas_windows 2$/m)
    exporter.registry.resetMetrics()
    expect(await exporter.registry.getSingleMetricAsString('atlas_windows_evicted_total')).toMatch(/^atlas_windows_evicted_total 0$/m)
  })
})

describe('one read of the sources per scrape', () => {
  it('through registry.metrics(): windows_rejected_total{reason="duplicate"} rises by exactly one per conflict per scrape', async () => {
    const exporter = createStabilityExporter()
    exporter.update('global', new StabilityTracker())
    exporter.track(ticked())
    const duplicates = async (): Promise<number | undefined> =>
      parseExposition(await exporter.registry.metrics())
        .get('atlas_windows_rejected_total')
        ?.samples.find((s) => s.labels.reason === 'duplicate')?.value
    expect(await duplicates()).toBe(1)
    expect(await duplicates()).toBe(2)
    await exporter.registry.getMetricsAsJSON()
    expect(exporter.rejections.duplicate).toBe(3)
  })
})

describe('cluster aggregation', () => {
  it('keeps the worst worker for scores, EMAs and modes, and sums counters', async () => {
    const trackers: StabilityTracker[] = []
    const worker = async (score: number, degradations: number): Promise<unknown[]> => {
      const exporter = createStabilityExporter()
      const tracker = new StabilityTracker({ minStableTicks: 5, scoreBuckets: [0.5, 1], clock: () => 0 })
      for (let i = 0; i < 40; i++) tracker.tick(score)
      for (let i = 0; i < degradations; i++) tracker.tick(score, true)
      exporter.track('global', tracker)
      trackers.push(tracker)
      return exporter.registry.getMetricsAsJSON()
    }
    const healthy = await worker(0.95, 0)
    const degraded = await worker(0.95, 30)
    const merged = parseExposition(await AggregatorRegistry.aggregate([healthy, degraded]).metrics())
    const value = (name: string): number | undefined => merged.get(name)?.samples[0]?.value
    expect(value('atlas_degradation_count_total')).toBe(30)
    expect(value('atlas_recommended_fab_mode')).toBe(0)
    expect(value('atlas_stability_score')).toBe(0)
    expect(value('atlas_stability_score_ema')).toBe(trackers[1]?.stabilityScoreEma())
    expect(trackers[1]?.stabilityScoreEma()).toBeLessThan(trackers[0]?.stabilityScoreEma() as number)
    expect(value('atlas_degradation_events_per_hour')).toBe(30)
    expect(value('atlas_windows')).toBe(2)
    // Histograms add up: 40 + 70 observations, bucket by bucket.
    expect(value('atlas_stability_score_count')).toBe(110)
    expect(merged.get('atlas_stability_score_bucket')?.samples.map((s) => [s.labels.le, s.value])).toEqual([
      // 0.2 and 0.4 on each worker, then 30 cool-down ticks at 0.
      ['0.5', 2 + 2 + 30],
      ['1', 110],
      ['+Inf', 110],
    ])
  })
})
