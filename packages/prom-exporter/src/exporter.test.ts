import { Hysteresis, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { createStabilityExporter } from './exporter.js'
import { StabilityCollector } from './collector.js'
import { EXPORTER_FAMILIES, FAMILIES, METRIC_NAMES, WINDOW_FAMILIES, metricNames } from './names.js'
import { ExpositionLayout, renderChunks } from './render.js'
import { ChunkWriter, concatBytes } from './writer.js'
import { parseExposition } from './testing/exposition.js'
import { promtool } from './testing/parsers.js'

const DESIGN_NAMES = [
  'atlas_stability_score',
  'atlas_stability_score_ema',
  'atlas_degradation_events_per_hour',
  'atlas_recommended_fab_mode',
  'atlas_stable_ticks',
  'atlas_degradation_count_total',
  'atlas_hyst_effective_mode',
  'atlas_hyst_desired_mode',
  'atlas_hyst_dwell_ticks',
  'atlas_hyst_last_switch_age_ticks',
  'atlas_hyst_switches_total',
  'atlas_hyst_oscillations_total',
  'atlas_hyst_switches_per_second',
  'atlas_hyst_oscillations_per_second',
]

function ticked(): StabilityWindows {
  const windows = new StabilityWindows({ tracker: { minStableTicks: 5 }, hysteresis: { dwellTicks: 2, rateLimitTicks: 0 }, clock: () => 0 })
  for (let i = 0; i < 30; i++) {
    windows.tick('global', i % 8 === 0 ? 0.3 : 0.9, i === 10)
    windows.tick('stream', 0.8)
  }
  return windows
}

describe('metric names', () => {
  it('exports exactly the names of the design, with their types', async () => {
    const exporter = createStabilityExporter()
    exporter.track(ticked())
    const families = parseExposition(await exporter.metrics())
    for (const name of DESIGN_NAMES) expect(families.has(name), name).toBe(true)
    expect(families.get('atlas_degradation_count_total')?.type).toBe('counter')
    expect(families.get('atlas_hyst_switches_total')?.type).toBe('counter')
    expect(families.get('atlas_hyst_oscillations_total')?.type).toBe('counter')
    expect(families.get('atlas_stability_score_ema')?.type).toBe('gauge')
    expect([...families.keys()]).toEqual(FAMILIES.map((f) => `atlas_${f.suffix}`))
    expect(Object.values(METRIC_NAMES)).toEqual(expect.arrayContaining(DESIGN_NAMES))
  })

  it('labels every window series with window_id and says unit or range in the help', async () => {
    const exporter = createStabilityExporter()
    exporter.track(ticked())
    for (const [name, family] of parseExposition(await exporter.metrics())) {
      expect(family.help, name).toMatch(/\[0, 1\]|\(|0 = FAB0|ticks|events|samples|windows|switches|reason/)
      if (!name.startsWith('atlas_windows')) for (const s of family.samples) expect(Object.keys(s.labels), name).toEqual(['window_id'])
    }
  })

  it('takes a prefix, and refuses one that makes invalid names', () => {
    expect(metricNames('fab_').stability_score).toBe('fab_stability_score')
    expect(createStabilityExporter({ prefix: '' }).names.stable_ticks).toBe('stable_ticks')
    expect(() => createStabilityExporter({ prefix: '9x' })).toThrow(/option "prefix" must match/)
  })

  it('refuses a prefix with a colon, which promtool rejects on every exported name', () => {
    for (const prefix of ['fab:', ':', 'a:b_']) expect(() => createStabilityExporter({ prefix })).toThrow(/option "prefix" must match .*; got/)
    expect(promtool('# HELP fab:windows w\n# TYPE fab:windows gauge\nfab:windows 1\n').output).toBe("fab:windows metric names should not contain ':'")
  })
})

describe('values', () => {
  it('reads tracked registries at scrape time (pull)', async () => {
    const windows = ticked()
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const g = windows.get('global')!
    const families = parseExposition(await exporter.metrics())
    const value = (name: string, id = 'global'): number | undefined => families.get(name)?.samples.find((s) => s.labels.window_id === id)?.value
    expect(value('atlas_stability_score_ema')).toBe(g.tracker.stabilityScoreEma())
    expect(value('atlas_stable_ticks')).toBe(g.tracker.stableTicks)
    expect(value('atlas_degradation_count_total')).toBe(g.tracker.totalDegradations)
    expect(value('atlas_recommended_fab_mode')).toBe({ FAB0: 0, FAB1: 1, FAB2: 2 }[g.tracker.recommendMode()])
    expect(value('atlas_hyst_effective_mode')).toBe({ FAB0: 0, FAB1: 1, FAB2: 2 }[g.hysteresis!.effectiveMode])
    expect(value('atlas_hyst_switches_total')).toBe(g.hysteresis!.getMetrics().switchCount)
    expect(value('atlas_windows', undefined)).toBeUndefined()
    expect(families.get('atlas_windows')?.samples[0]?.value).toBe(2)
    // Ticks after the scrape show at the next one, with no push.
    for (let i = 0; i < 5; i++) windows.tick('global', 0.9)
    const next = parseExposition(await exporter.metrics())
    expect(next.get('atlas_stable_ticks')?.samples.find((s) => s.labels.window_id === 'global')?.value).toBe(g.tracker.stableTicks)
  })

  it('copies a tracker at update() time (push), like the reference', async () => {
    const tracker = new StabilityTracker({ minStableTicks: 10, clock: () => 0 })
    const exporter = createStabilityExporter()
    tracker.tick(0.9)
    expect(exporter.update('global', tracker)).toBe(true)
    tracker.tick(0.9)
    const families = parseExposition(await exporter.metrics())
    expect(families.get('atlas_stable_ticks')?.samples).toEqual([{ labels: { window_id: 'global' }, value: 1 }])
    expect(families.get('atlas_hyst_effective_mode')?.samples).toEqual([])
  })

  it('pushes a filter, and leaves the switch age out before the first switch', async () => {
    const filter = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    const exporter = createStabilityExporter()
    exporter.updateHysteresis('global', filter)
    let families = parseExposition(await exporter.metrics())
    expect(families.get('atlas_hyst_last_switch_age_ticks')?.samples).toEqual([])
    expect(families.get('atlas_hyst_effective_mode')?.samples[0]?.value).toBe(2)
    filter.update('FAB1', 3)
    filter.update('FAB1', 7)
    exporter.updateHysteresis('global', filter)
    families = parseExposition(await exporter.metrics())
    expect(families.get('atlas_hyst_last_switch_age_ticks')?.samples[0]?.value).toBe(4)
    expect(families.get('atlas_hyst_desired_mode')?.samples[0]?.value).toBe(1)
    expect(families.get('atlas_stability_score')?.samples).toEqual([])
  })

  it('tracks a single tracker and filter, and stops on untrack', async () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    const filter = new Hysteresis({ clock: () => 0 })
    const exporter = createStabilityExporter()
    const untrack = exporter.track('solo', tracker, filter)
    tracker.tick(0.5, true)
    let families = parseExposition(await exporter.metrics())
    expect(families.get('atlas_degradation_count_total')?.samples).toEqual([{ labels: { window_id: 'solo' }, value: 1 }])
    expect(families.get('atlas_hyst_dwell_ticks')?.samples).toHaveLength(1)
    untrack()
    untrack()
    families = parseExposition(await exporter.metrics())
    expect(families.get('atlas_stability_score')?.samples).toEqual([])
    expect(() => exporter.track('', tracker)).toThrow(/window id "" is empty/)
    exporter.track('only-filter', null, filter)
    expect(parseExposition(await exporter.metrics()).get('atlas_stability_score')?.samples).toEqual([])
  })

  it('removes pushed and single windows', async () => {
    const exporter = createStabilityExporter()
    exporter.update('a', new StabilityTracker())
    exporter.track('b', new StabilityTracker())
    expect(exporter.remove('a')).toBe(true)
    expect(exporter.remove('b')).toBe(true)
    expect(exporter.remove('c')).toBe(false)
    expect(parseExposition(await exporter.metrics()).get('atlas_windows')?.samples[0]?.value).toBe(0)
  })
})

describe('counters never decrease', () => {
  const count = async (exporter: ReturnType<typeof createStabilityExporter>, name = 'atlas_degradation_count_total'): Promise<number | undefined> =>
    parseExposition(await exporter.metrics()).get(name)?.samples[0]?.value

  it('across a tracker reset', async () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    const exporter = createStabilityExporter()
    exporter.track('w', tracker)
    tracker.tick(0.5, true)
    tracker.tick(0.5, true)
    expect(await count(exporter)).toBe(2)
    tracker.reset()
    expect(await count(exporter)).toBe(2)
    tracker.tick(0.5, true)
    expect(await count(exporter)).toBe(3)
  })

  it('when a window goes from pull to push between two scrapes: the push is accepted and the counter continues', async () => {
    const tracked = new StabilityTracker({ clock: () => 0 })
    for (let i = 0; i < 5; i++) tracked.tick(0.5, true)
    const pushed = new StabilityTracker({ clock: () => 0 })
    pushed.tick(0.5, true)
    // A single tracker, then a registry's window, handed over to push before the next scrape.
    const exporter = createStabilityExporter()
    const stop = exporter.track('w', tracked)
    expect(await count(exporter)).toBe(5)
    stop()
    expect(exporter.update('w', pushed)).toBe(true)
    expect(await count(exporter)).toBe(6)
    const windows = new StabilityWindows({ clock: () => 0 })
    for (let i = 0; i < 5; i++) windows.tick('v', 0.5, true)
    const other = createStabilityExporter()
    other.track(windows)
    expect(parseExposition(await other.metrics()).get('atlas_degradation_count_total')?.samples[0]?.value).toBe(5)
    windows.delete('v')
    expect(other.update('v', pushed)).toBe(true)
    expect(parseExposition(await other.metrics()).get('atlas_degradation_count_total')?.samples).toEqual([{ labels: { window_id: 'v' }, value: 6 }])
    expect(other.rejections.duplicate).toBe(0)
    // While its source still exports it, the id stays refused.
    exporter.track('u', tracked)
    await exporter.metrics()
    expect(exporter.update('u', pushed)).toBe(false)
    expect(exporter.rejections.duplicate).toBe(1)
  })

  it('across a tracker replaced by a fresh one (push)', async () => {
    const exporter = createStabilityExporter()
    const first = new StabilityTracker({ clock: () => 0 })
    for (let i = 0; i < 3; i++) first.tick(0.5, true)
    exporter.update('w', first)
    const second = new StabilityTracker({ clock: () => 0 })
    second.tick(0.5, true)
    exporter.update('w', second)
    expect(await count(exporter)).toBe(4)
    second.tick(0.5, true)
    exporter.update('w', second)
    expect(await count(exporter)).toBe(5)
  })

  it('for filter switches and invalid samples too', async () => {
    const exporter = createStabilityExporter()
    const a = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    a.update('FAB1', 1)
    a.update('FAB2', 2)
    exporter.updateHysteresis('w', a)
    exporter.updateHysteresis('w', new Hysteresis({ clock: () => 0 }))
    expect(await count(exporter, 'atlas_hyst_switches_total')).toBe(2)
    const t = new StabilityTracker()
    t.tick(Number.NaN)
    t.tick(5)
    exporter.update('w', t)
    exporter.update('w', new StabilityTracker())
    expect(await count(exporter, 'atlas_invalid_samples_total')).toBe(1)
    expect(await count(exporter, 'atlas_clamped_samples_total')).toBe(1)
  })

  it('when a registry window is evicted and comes back between scrapes', async () => {
    let now = 0
    const windows = new StabilityWindows({ idleTtlMs: 100, maxWindows: 1, clock: () => now })
    const exporter = createStabilityExporter()
    exporter.track(windows)
    windows.tick('w', 0.5, true)
    windows.tick('w', 0.5, true)
    expect(await count(exporter)).toBe(2)
    now = 1000
    windows.sweep()
    windows.sweep()
    windows.tick('w', 0.5, true)
    expect(windows.evicted).toBe(1)
    expect(await count(exporter)).toBe(3)
    expect(parseExposition(await exporter.metrics()).get('atlas_windows_evicted_total')?.samples[0]?.value).toBe(1)
  })
})

describe('rejections', () => {
  const rejected = async (exporter: ReturnType<typeof createStabilityExporter>): Promise<Record<string, number>> =>
    Object.fromEntries(parseExposition(await exporter.metrics()).get('atlas_windows_rejected_total')!.samples.map((s) => [s.labels.reason, s.value]))

  it('counts invalid ids and ids past maxWindows', async () => {
    const exporter = createStabilityExporter({ maxWindows: 2 })
    const t = new StabilityTracker()
    expect(exporter.update('', t)).toBe(false)
    expect(exporter.update('a\nb', t)).toBe(false)
    expect(exporter.updateHysteresis('x'.repeat(200), new Hysteresis())).toBe(false)
    for (const id of ['a', 'b', 'c', 'd']) exporter.update(id, t)
    expect(await rejected(exporter)).toEqual({ invalid_id: 3, capacity: 2, duplicate: 0 })
    expect(exporter.rejections).toEqual({ invalid_id: 3, capacity: 2, duplicate: 0 })
  })

  it('adds the rejections of tracked registries, and keeps them after untrack', async () => {
    const windows = new StabilityWindows({ maxWindows: 1 })
    windows.tick('a', 0.5)
    windows.tick('b', 0.5)
    windows.tick('', 0.5)
    const exporter = createStabilityExporter()
    const untrack = exporter.track(windows)
    expect(await rejected(exporter)).toEqual({ invalid_id: 1, capacity: 1, duplicate: 0 })
    untrack()
    untrack()
    expect(await rejected(exporter)).toEqual({ invalid_id: 1, capacity: 1, duplicate: 0 })
  })

  it('exports a window once when two sources claim it, and counts the duplicate', async () => {
    const windows = ticked()
    const exporter = createStabilityExporter()
    exporter.update('global', new StabilityTracker())
    exporter.track(windows)
    exporter.track(ticked())
    const families = parseExposition(await exporter.metrics())
    expect(families.get('atlas_stable_ticks')?.samples.map((s) => s.labels.window_id)).toEqual(['global', 'stream'])
    // Three conflicts (global: push vs each registry; stream: registry vs registry), read once per scrape:
    // the counter rises by exactly 3 per scrape (it rose by 6 when each scrape read the sources twice).
    expect(exporter.rejections.duplicate).toBe(3)
    expect((await rejected(exporter)).duplicate).toBe(6)
    expect((await rejected(exporter)).duplicate).toBe(9)
    exporter.render('openmetrics')
    expect(exporter.rejections.duplicate).toBe(12)
  })

  it('exports a window once per scrape when scrapes overlap (a text and an OpenMetrics scrape, two Prometheus servers)', () => {
    const big = new StabilityWindows({ maxWindows: 1000 })
    big.tick('dup', 0.5, true)
    for (let i = 0; i < 600; i++) big.tick(`w${String(i)}`, 0.9)
    const small = new StabilityWindows()
    small.tick('dup', 0.9)
    const collector = new StabilityCollector(10)
    collector.trackWindows(big)
    collector.trackWindows(small)
    // Two sliced scrapes, interleaved: a step with a past deadline stops after 256 windows.
    const a = collector.begin()
    const b = collector.begin()
    expect(a.step(0)).toBe(false)
    expect(b.step(0)).toBe(false)
    expect(a.step(Infinity)).toBe(true)
    expect(b.step(Infinity)).toBe(true)
    const layout = new ExpositionLayout('atlas_', WINDOW_FAMILIES, EXPORTER_FAMILIES, [], 'prometheus')
    for (const snapshot of [a.finish(), b.finish()]) {
      expect(snapshot.size).toBe(601)
      expect(snapshot.windows.filter((w) => w.id === 'dup')).toHaveLength(1)
      const text = new TextDecoder().decode(concatBytes(renderChunks(layout, snapshot, new ChunkWriter())))
      expect(promtool(text)).toEqual({ status: 0, output: '' })
    }
    expect(collector.rejections.duplicate).toBe(2)
  })
})

