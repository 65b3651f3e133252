import { readFileSync } from 'node:fs'
import { DEFAULT_SCORE_BUCKETS, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { createStabilityExporter } from './exporter.js'
import { formatBound } from './format.js'
import { FAMILIES, HISTOGRAM_FAMILIES, metricNames } from './names.js'
import { renderChunks } from './render.js'
import { ChunkWriter, concatBytes, fromUtf8 } from './writer.js'
import { parseExposition } from './testing/exposition.js'
import { promtool, pythonParse } from './testing/parsers.js'

interface TrackerCase {
  name: string
  kind: string
  config: Record<string, number>
  inputs: [number, boolean][]
  fields: string[]
  expected: unknown[][]
}
const vectors = JSON.parse(readFileSync(new URL('../../stability-core/src/__fixtures__/reference-vectors.json', import.meta.url), 'utf8')) as { cases: TrackerCase[] }
const schedule = vectors.cases.find((c) => c.name === 'probe-schedule-20-50-80') as TrackerCase

/** `{le: value}` of window `id`'s bucket series, and its sum and count, as parsed from the exposition. */
function histogramOf(text: string, id: string, prefix = 'atlas_'): { buckets: Record<string, number>; sum: number | undefined; count: number | undefined } {
  const families = parseExposition(text)
  const buckets: Record<string, number> = {}
  for (const s of families.get(`${prefix}stability_score_bucket`)?.samples ?? []) if (s.labels.window_id === id) buckets[s.labels.le as string] = s.value
  const one = (suffix: string): number | undefined => families.get(`${prefix}stability_score_${suffix}`)?.samples.find((s) => s.labels.window_id === id)?.value
  return { buckets, sum: one('sum'), count: one('count') }
}

describe('the score histogram families', () => {
  it('are three untyped families after the window families, prefix-aware, summed in a cluster', () => {
    expect(HISTOGRAM_FAMILIES.map((f) => [f.suffix, f.type, f.cluster])).toEqual([
      ['stability_score_bucket', 'untyped', 'sum'],
      ['stability_score_sum', 'untyped', 'sum'],
      ['stability_score_count', 'untyped', 'sum'],
    ])
    expect(FAMILIES.map((f) => f.suffix).indexOf('stability_score_bucket')).toBe(FAMILIES.map((f) => f.suffix).indexOf('hyst_oscillations_per_second') + 1)
    expect(metricNames('fab_').stability_score_bucket).toBe('fab_stability_score_bucket')
    expect(metricNames().stability_score_count).toBe('atlas_stability_score_count')
  })

  it('format le the way Prometheus clients do', () => {
    expect([0.5, 1, 0, -0, 0.95, 1e-7, 2.5e21, Infinity].map(formatBound)).toEqual(['0.5', '1', '0', '0', '0.95', '1e-7', '2.5e+21', '+Inf'])
  })
})

describe('rendering the score histogram', () => {
  it('exports the exact counts of the reference probe schedule, in both formats', () => {
    const windows = new StabilityWindows({ tracker: { ...schedule.config, scoreBuckets: DEFAULT_SCORE_BUCKETS }, hysteresis: false, clock: () => 0 })
    for (const [score, degraded] of schedule.inputs) windows.tick('global', score, degraded)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const text = exporter.render()
    expect(text).toContain(
      [
        '# TYPE atlas_stability_score_bucket untyped',
        'atlas_stability_score_bucket{window_id="global",le="0"} 14',
        'atlas_stability_score_bucket{window_id="global",le="0.1"} 26',
        'atlas_stability_score_bucket{window_id="global",le="0.25"} 42',
        'atlas_stability_score_bucket{window_id="global",le="0.5"} 72',
        'atlas_stability_score_bucket{window_id="global",le="0.6"} 81',
        'atlas_stability_score_bucket{window_id="global",le="0.7"} 88',
        'atlas_stability_score_bucket{window_id="global",le="0.8"} 94',
        'atlas_stability_score_bucket{window_id="global",le="0.9"} 99',
        'atlas_stability_score_bucket{window_id="global",le="0.95"} 100',
        'atlas_stability_score_bucket{window_id="global",le="1"} 100',
        'atlas_stability_score_bucket{window_id="global",le="+Inf"} 100',
        '',
      ].join('\n'),
    )
    expect(text).toContain('# TYPE atlas_stability_score_count untyped\natlas_stability_score_count{window_id="global"} 100\n')
    const scores = schedule.expected.map((row) => row[schedule.fields.indexOf('stabilityScore')] as number)
    expect(Math.abs((histogramOf(text, 'global').sum as number) - scores.reduce((a, s) => a + s, 0))).toBeLessThanOrEqual(1e-9)
    const om = exporter.render('openmetrics')
    expect(om).toContain('# TYPE atlas_stability_score_bucket unknown\natlas_stability_score_bucket{window_id="global",le="0"} 14\n')
    expect(om).toContain('# TYPE atlas_stability_score_sum unknown\n')
    expect(om).toContain('# TYPE atlas_stability_score_count unknown\natlas_stability_score_count{window_id="global"} 100\n')
  })

  it('emits no histogram series for windows without scoreBuckets (the headers stay, as for every family)', () => {
    const exporter = createStabilityExporter()
    const plain = new StabilityTracker()
    plain.tick(0.9)
    const counted = new StabilityTracker({ scoreBuckets: [0.5] })
    counted.tick(0.9)
    exporter.track('plain', plain)
    exporter.track('counted', counted)
    const families = parseExposition(exporter.render())
    for (const f of HISTOGRAM_FAMILIES) expect(new Set(families.get(`atlas_${f.suffix}`)?.samples.map((s) => s.labels.window_id))).toEqual(new Set(['counted']))
    expect(families.get('atlas_stability_score_bucket')?.samples).toHaveLength(2)
  })

  it('is prefix-aware and puts le between window_id and the constant labels', () => {
    const exporter = createStabilityExporter({ prefix: 'fab_', constLabels: { service: 'a"b' } })
    const tracker = new StabilityTracker({ scoreBuckets: [0.5, 1] })
    tracker.tick(0.9)
    exporter.track('w', tracker)
    const text = exporter.render()
    expect(text).toContain('\nfab_stability_score_bucket{window_id="w",le="0.5",service="a\\"b"} 1\nfab_stability_score_bucket{window_id="w",le="1",service="a\\"b"} 1\n')
    expect(text).toContain('\nfab_stability_score_sum{window_id="w",service="a\\"b"} 0.01\n')
    expect(promtool(text)).toEqual({ status: 0, output: '' })
    expect(pythonParse([{ text, format: 'prometheus' }, { text: exporter.render('openmetrics'), format: 'openmetrics' }]).map((v) => v.ok)).toEqual([true, true])
  })

  it('keeps a snapshot as it was read while the windows keep ticking', () => {
    const windows = new StabilityWindows({ tracker: { scoreBuckets: [0.5] }, clock: () => 0 })
    windows.tick('a', 0.9)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const snapshot = exporter.snapshot()
    windows.tick('a', 0.9)
    const text = fromUtf8(concatBytes(renderChunks(exporter.layout(), snapshot, new ChunkWriter())))
    expect(histogramOf(text, 'a')).toEqual({ buckets: { '0.5': 1, '+Inf': 1 }, sum: 0.01, count: 1 })
    expect(histogramOf(exporter.render(), 'a')).toEqual({ buckets: { '0.5': 2, '+Inf': 2 }, sum: 0.03, count: 2 })
  })
})

describe('the score histogram never decreases', () => {
  it('across reset() (life-time counts) and across a tracker replaced under the same id (carried)', () => {
    const exporter = createStabilityExporter()
    const first = new StabilityTracker({ minStableTicks: 2, scoreBuckets: [0.5, 1] })
    first.tick(0.9)
    first.tick(0.9)
    exporter.track('w', first)
    expect(histogramOf(exporter.render(), 'w')).toEqual({ buckets: { '0.5': 1, '1': 2, '+Inf': 2 }, sum: 1.5, count: 2 })
    first.reset()
    first.tick(0.9)
    expect(histogramOf(exporter.render(), 'w')).toEqual({ buckets: { '0.5': 2, '1': 3, '+Inf': 3 }, sum: 2, count: 3 })
    // A new tracker (a restart): its counts are added to the ones exported so far.
    const second = new StabilityTracker({ minStableTicks: 2, scoreBuckets: [0.5, 1] })
    second.tick(0.9, true)
    exporter.track('w', second)
    expect(histogramOf(exporter.render(), 'w')).toEqual({ buckets: { '0.5': 3, '1': 4, '+Inf': 4 }, sum: 2, count: 4 })
    // The rest of its cool-down (0), then one stable tick (0.5).
    second.tick(0.9)
    second.tick(0.9)
    expect(histogramOf(exporter.render(), 'w')).toEqual({ buckets: { '0.5': 5, '1': 6, '+Inf': 6 }, sum: 2.5, count: 6 })
  })

  it('in push mode: update() with a replaced tracker carries too', () => {
    const exporter = createStabilityExporter()
    const first = new StabilityTracker({ minStableTicks: 1, scoreBuckets: [0.5] })
    for (let i = 0; i < 5; i++) first.tick(0.9)
    exporter.update('pushed', first)
    expect(histogramOf(exporter.render(), 'pushed').count).toBe(5)
    const second = new StabilityTracker({ minStableTicks: 1, scoreBuckets: [0.5] })
    second.tick(0.9)
    exporter.update('pushed', second)
    expect(histogramOf(exporter.render(), 'pushed')).toEqual({ buckets: { '0.5': 0, '+Inf': 6 }, sum: 6, count: 6 })
  })

  it('when a registry is restored from an older snapshot (a process restart from a state file)', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 1, scoreBuckets: [0.5] }, clock: () => 0 })
    windows.tick('a', 0.9)
    const saved = windows.toJSON()
    windows.tick('a', 0.9)
    windows.tick('a', 0.9)
    const exporter = createStabilityExporter()
    const untrack = exporter.track(windows)
    expect(histogramOf(exporter.render(), 'a').count).toBe(3)
    untrack()
    exporter.track(StabilityWindows.fromJSON(saved, { clock: () => 0 }))
    // The restored window reads 1 after 3: a restart; 3 + 1 is exported.
    expect(histogramOf(exporter.render(), 'a')).toEqual({ buckets: { '0.5': 0, '+Inf': 4 }, sum: 4, count: 4 })
  })
})
