import fc from 'fast-check'
import { StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { CLUSTER_FAMILIES, ClusterMerger, FORGET_AFTER, clusterLayout, renderCluster, toWorkerSnapshot, workerSnapshotProblem, type IngestedSnapshot } from './cluster-merge.js'
import { createStabilityExporter, type StabilityExporter } from './exporter.js'
import { EXPORTER_FAMILIES, FAMILIES, HISTOGRAM_FAMILIES, WINDOW_FAMILIES } from './names.js'
import { parseExposition } from './testing/exposition.js'
import { promtool, pythonParse } from './testing/parsers.js'

/** Worker `w` of a known cluster: windows `global` (degrades every `period` ticks) and `stream` (healthy), `ticks` ticks. */
function worker(period: number, ticks: number, extra: readonly string[] = []): { windows: StabilityWindows; exporter: StabilityExporter } {
  const windows = new StabilityWindows({ clock: () => 0, tracker: { minStableTicks: 30 } })
  for (let t = 1; t <= ticks; t++) {
    const degrade = period > 0 && t % period === 0
    windows.tick('global', degrade ? 0.3 : 0.9, degrade)
    windows.tick('stream', 0.9, false)
    for (const id of extra) windows.tick(id, degrade ? 0.3 : 0.9, degrade)
  }
  const exporter = createStabilityExporter()
  exporter.track(windows)
  return { windows, exporter }
}

const text = (merger: ClusterMerger, parts: readonly (IngestedSnapshot | undefined)[], format: 'prometheus' | 'openmetrics' = 'prometheus'): string =>
  new TextDecoder().decode(renderCluster(clusterLayout(format), merger.merge(parts)))

const value = (exposition: string, name: string, labels: Record<string, string>): number | undefined => {
  const family = parseExposition(exposition).get(name) ?? parseExposition(exposition).get(name.replace(/_total$/, ''))
  return family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value
}

describe('ClusterMerger, worker mode', () => {
  it('keeps every worker series under its slot, with exactly the values of its own exporter', () => {
    const workers = [0, 7, 13, 3].map((p) => worker(p, 200))
    const merger = new ClusterMerger('worker')
    const out = text(
      merger,
      workers.map((w, slot) => merger.ingest(slot, 100 + slot, toWorkerSnapshot(w.exporter.snapshot()))),
    )
    expect(promtool(out).status).toBe(0)
    const families = parseExposition(out)
    for (const [slot, w] of workers.entries()) {
      const single = parseExposition(w.exporter.render())
      for (const [name, family] of single) {
        for (const s of family.samples) {
          const merged = families.get(name)?.samples.find((m) => m.labels.worker === String(slot) && Object.entries(s.labels).every(([k, v]) => m.labels[k] === v))
          expect(merged?.value, `${name} ${JSON.stringify(s.labels)} worker ${String(slot)}`).toBe(s.value)
        }
      }
    }
    // Every family a worker exports is in the merge, with one series per worker for each of its series.
    const singles = workers.map((w) => parseExposition(w.exporter.render()))
    for (const name of singles[0]!.keys()) expect(families.get(name)?.samples.length, name).toBe(singles.reduce((n, f) => n + f.get(name)!.samples.length, 0))
    expect(value(out, 'atlas_degradation_count_total', { window_id: 'global', worker: '1' })).toBe(28)
    expect(value(out, 'atlas_degradation_count_total', { window_id: 'global', worker: '2' })).toBe(15)
    expect(value(out, 'atlas_windows', { worker: '3' })).toBe(2)
  })

  it('carries a slot\'s counters to the process that takes it over, and after a reading that went back', () => {
    const merger = new ClusterMerger('worker')
    const first = worker(5, 100) // 20 events
    merger.ingest(0, 1, toWorkerSnapshot(first.exporter.snapshot()))
    const second = worker(5, 30) // a new process: 6 events of its own
    const out = text(merger, [merger.ingest(0, 2, toWorkerSnapshot(second.exporter.snapshot()))])
    expect(value(out, 'atlas_degradation_count_total', { window_id: 'global', worker: '0' })).toBe(26)
    // The same process reads lower (its exporter forgot the window): what it had is kept.
    const forgot = worker(5, 10) // 2 events
    const again = text(merger, [merger.ingest(0, 2, toWorkerSnapshot(forgot.exporter.snapshot()))])
    expect(value(again, 'atlas_degradation_count_total', { window_id: 'global', worker: '0' })).toBe(28)
    // Exporter-scope counters too.
    expect(value(again, 'atlas_windows_rejected_total', { reason: 'capacity', worker: '0' })).toBe(0)
  })

  it('never lowers a counter, whatever the processes and readings (property, against an exact oracle)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ slot: fc.integer({ min: 0, max: 3 }), restart: fc.boolean(), events: fc.integer({ min: 0, max: 5 }), forget: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        (steps) => {
          const merger = new ClusterMerger('aggregate')
          const proc = [0, 0, 0, 0]
          const raw = [0, 0, 0, 0]
          const exported = [0, 0, 0, 0]
          const lastRaw = [0, 0, 0, 0]
          let previous = 0
          for (const step of steps) {
            if (step.restart) {
              proc[step.slot]!++
              raw[step.slot] = 0
            } else if (step.forget) raw[step.slot] = 0
            raw[step.slot]! += step.events
            // Oracle: each slot's exported count only grows, by what its process counted since the last reading.
            const snap = worker(1, raw[step.slot]!).exporter.snapshot()
            const part = merger.ingest(step.slot, proc[step.slot]!, toWorkerSnapshot(snap))
            // A restart hands the slot over; a reading that went back within a process carries the last
            // one; a process that forgot and counted past its last reading cannot be told apart.
            // (A worker with no event has no window: nothing is read.)
            const last = lastRaw[step.slot]!
            if (raw[step.slot]! > 0) {
              exported[step.slot]! += step.restart ? raw[step.slot]! : raw[step.slot]! < last ? raw[step.slot]! : raw[step.slot]! - last
              lastRaw[step.slot] = raw[step.slot]!
            } else if (step.restart) lastRaw[step.slot] = 0
            const parts: (IngestedSnapshot | undefined)[] = []
            parts[step.slot] = part
            const total = value(text(merger, parts), 'atlas_degradation_count_total', { window_id: 'global' })
            const expected = exported.reduce((a, b) => a + b, 0)
            // A worker with no event has no window yet: nothing to read.
            if (raw[step.slot]! > 0) {
              expect(total).toBe(expected)
              expect(total!).toBeGreaterThanOrEqual(previous)
              previous = total!
            }
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('ClusterMerger, aggregate mode', () => {
  it('takes the worst worker for gauges and sums counters, exactly as the families say', () => {
    const periods = [0, 7, 13, 3]
    const workers = periods.map((p) => worker(p, 200))
    const merger = new ClusterMerger('aggregate')
    const out = text(
      merger,
      workers.map((w, slot) => merger.ingest(slot, slot, toWorkerSnapshot(w.exporter.snapshot()))),
    )
    expect(promtool(out).status).toBe(0)
    const trackers = workers.map((w) => w.windows.get('global')!.tracker)
    const filters = workers.map((w) => w.windows.get('global')!.hysteresis!)
    const g = { window_id: 'global' }
    expect(value(out, 'atlas_stability_score_ema', g)).toBe(Math.min(...trackers.map((t) => t.stabilityScoreEma())))
    expect(value(out, 'atlas_stability_score', g)).toBe(Math.min(...trackers.map((t) => t.stabilityScore())))
    expect(value(out, 'atlas_stable_ticks', g)).toBe(Math.min(...trackers.map((t) => t.stableTicks)))
    expect(value(out, 'atlas_recommended_fab_mode', g)).toBe(Math.min(...trackers.map((t) => ({ FAB0: 0, FAB1: 1, FAB2: 2 })[t.recommendMode()])))
    expect(value(out, 'atlas_degradation_events_per_hour', g)).toBe(Math.max(...trackers.map((t) => t.degradationEventsPerHour())))
    expect(value(out, 'atlas_cooldown_remaining_ticks', g)).toBe(Math.max(...trackers.map((t) => t.cooldownRemaining)))
    expect(value(out, 'atlas_degradation_count_total', g)).toBe(0 + 28 + 15 + 66)
    expect(value(out, 'atlas_hyst_switches_total', g)).toBe(filters.reduce((a, f) => a + f.getMetrics().switchCount, 0))
    expect(value(out, 'atlas_hyst_dwell_ticks', g)).toBe(Math.max(...filters.map((f) => f.getMetrics().dwellCounter)))
    // Two windows exported, not eight; no worker label on the merged series.
    expect(value(out, 'atlas_windows', {})).toBe(2)
    expect(parseExposition(out).get('atlas_stability_score')?.samples.map((s) => s.labels)).toEqual([{ window_id: 'global' }, { window_id: 'stream' }])
    expect(value(out, 'atlas_stability_score_ema', { window_id: 'stream' })).toBe(Math.min(...workers.map((w) => w.windows.get('stream')!.tracker.stabilityScoreEma())))
  })

  it('keeps a missing or dead worker\'s counts in the sums, and merges windows only some workers have', () => {
    const merger = new ClusterMerger('aggregate')
    const a = worker(2, 10) // 5 events
    const b = worker(5, 10, ['only-b']) // 2 events
    merger.ingest(0, 1, toWorkerSnapshot(a.exporter.snapshot()))
    const pb = merger.ingest(1, 2, toWorkerSnapshot(b.exporter.snapshot()))
    // Worker 0 does not answer: its 5 events still count.
    const out = text(merger, [undefined, pb])
    expect(value(out, 'atlas_degradation_count_total', { window_id: 'global' })).toBe(7)
    expect(value(out, 'atlas_stability_score_ema', { window_id: 'only-b' })).toBe(b.windows.get('only-b')!.tracker.stabilityScoreEma())
    // Worker 0 respawned: 1 event of its own on top of the 5.
    const a2 = worker(1, 1)
    const again = text(merger, [merger.ingest(0, 3, toWorkerSnapshot(a2.exporter.snapshot())), pb])
    expect(value(again, 'atlas_degradation_count_total', { window_id: 'global' })).toBe(8)
  })

  it('forgets a window no worker has exported for FORGET_AFTER merges', () => {
    const merger = new ClusterMerger('aggregate')
    merger.ingest(0, 1, toWorkerSnapshot(worker(1, 3, ['gone']).exporter.snapshot()))
    const rest = toWorkerSnapshot(worker(1, 3).exporter.snapshot())
    for (let i = 0; i <= FORGET_AFTER; i++) merger.merge([merger.ingest(0, 1, { ...rest, values: rest.values.slice() })])
    const back = merger.ingest(0, 1, toWorkerSnapshot(worker(1, 1, ['gone']).exporter.snapshot()))
    // `gone` starts again (1 event); `global` reads lower in the same process and continues (3 + 1).
    const out = text(merger, [back])
    expect(value(out, 'atlas_degradation_count_total', { window_id: 'gone' })).toBe(1)
    expect(value(out, 'atlas_degradation_count_total', { window_id: 'global' })).toBe(4)
  })
})

describe('worker snapshots', () => {
  it('are refused when they are not this version\'s', () => {
    const good = toWorkerSnapshot(worker(1, 2).exporter.snapshot())
    expect(workerSnapshotProblem(good)).toBe(null)
    expect(workerSnapshotProblem(null)).toBe('not an object')
    expect(workerSnapshotProblem({ ...good, families: ['x'] })).toBe("families differ from this version's")
    expect(workerSnapshotProblem({ ...good, ids: [1] })).toBe('ids are not strings')
    expect(workerSnapshotProblem({ ...good, present: [1, 1] })).toBe('present is not a Uint8Array of one byte per window')
    expect(workerSnapshotProblem({ ...good, values: new Float64Array(1) })).toBe('values is not a Float64Array of one row per window')
    expect(workerSnapshotProblem({ ...good, exporter: null })).toBe('exporter families missing')
    expect(workerSnapshotProblem({ ...good, exporter: [{ suffix: 1 }] })).toBe('exporter family malformed')
    expect(workerSnapshotProblem({ ...good, exporter: [{ suffix: 'windows', samples: [{ value: 'x' }] }] })).toBe('exporter sample malformed')
    expect(workerSnapshotProblem({ ...good, exporter: [{ suffix: 'windows', samples: [{ value: 1, labels: [['a']] }] }] })).toBe('exporter sample labels malformed')
    const merger = new ClusterMerger()
    expect(() => merger.ingest(0, 1, { ...good, ids: [1] } as never)).toThrow(new RangeError('ClusterMerger.ingest: not a worker snapshot: ids are not strings'))
    expect(() => merger.ingest(-1, 1, good)).toThrow(new RangeError('ClusterMerger.ingest: "slot" must be an integer in [0, 65535]; got -1'))
    expect(() => clusterLayout('prometheus', 'atlas_', { worker: 'a' })).toThrow(new RangeError('clusterLayout: option "constLabels" may not set "worker": the cluster sets it on every worker\'s series'))
    expect(() => merger.merge([new ClusterMerger().ingest(0, 1, toWorkerSnapshot(worker(1, 2).exporter.snapshot()))])).toThrow(
      new RangeError("ClusterMerger.merge: a part was not taken in by this merger's ingest()"),
    )
    expect(() => new ClusterMerger('sum' as never)).toThrow(new RangeError('ClusterMerger: option "mode" must be "worker" or "aggregate"; got "sum"'))
  })

  it('render in both formats with the cluster families, accepted by promtool and Python\'s parsers', () => {
    const merger = new ClusterMerger()
    const merged = merger.merge([merger.ingest(0, 1, toWorkerSnapshot(worker(3, 9).exporter.snapshot()))], [{ spec: CLUSTER_FAMILIES[0], samples: [{ labels: [['worker', '0']], value: 1 }] }])
    const om = new TextDecoder().decode(renderCluster(clusterLayout('openmetrics', 'fab_', { service: 'x' }), merged))
    const plain = new TextDecoder().decode(renderCluster(clusterLayout('prometheus', 'fab_', { service: 'x' }), merged))
    expect(om.endsWith('# EOF\n')).toBe(true)
    expect(om).toContain('# TYPE fab_cluster_worker_up gauge\nfab_cluster_worker_up{worker="0",service="x"} 1\n')
    expect(promtool(plain)).toEqual({ status: 0, output: '' })
    expect(pythonParse([{ text: plain, format: 'prometheus' }, { text: om, format: 'openmetrics' }]).map((v) => v.ok)).toEqual([true, true])
    // Every family is merged: the window families, the score histogram's and the exporter's.
    expect(FAMILIES.length).toBe(WINDOW_FAMILIES.length + HISTOGRAM_FAMILIES.length + EXPORTER_FAMILIES.length)
  })
})

/**
 * A worker whose window `global` keeps a score histogram: `ticks` healthy ticks with
 * `minStableTicks: 2` score 0.5, then 1 on every later tick, so its histogram is known
 * exactly: 1 tick at or below 0.5, `ticks` in all, sum `ticks - 0.5`.
 */
function histWorker(ticks: number, scoreBuckets: readonly number[] = [0.5, 0.8]): StabilityExporter {
  const windows = new StabilityWindows({ clock: () => 0, tracker: { minStableTicks: 2, scoreBuckets } })
  for (let t = 0; t < ticks; t++) windows.tick('global', 0.9, false)
  const exporter = createStabilityExporter()
  exporter.track(windows)
  return exporter
}

/** `{le: value}` of the bucket series of `labels` (plus `le`), and the sum and count of `labels`. */
function histogramOf(exposition: string, labels: Record<string, string>): { buckets: Record<string, number>; sum: number | undefined; count: number | undefined } {
  const families = parseExposition(exposition)
  const buckets: Record<string, number> = {}
  const match = (s: { labels: Record<string, string> }, extra: number): boolean =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length + extra
  for (const s of families.get('atlas_stability_score_bucket')?.samples ?? []) if (match(s, 1)) buckets[s.labels.le as string] = s.value
  const one = (suffix: string): number | undefined => families.get(`atlas_stability_score_${suffix}`)?.samples.find((s) => match(s, 0))?.value
  return { buckets, sum: one('sum'), count: one('count') }
}

describe('ClusterMerger, score histograms', () => {
  it('worker mode keeps each worker\'s histogram under its slot, le after worker; both formats parse', () => {
    const merger = new ClusterMerger('worker')
    const merged = merger.merge([merger.ingest(0, 1, toWorkerSnapshot(histWorker(4).snapshot())), merger.ingest(1, 2, toWorkerSnapshot(histWorker(10).snapshot()))])
    const plain = new TextDecoder().decode(renderCluster(clusterLayout('prometheus'), merged))
    const om = new TextDecoder().decode(renderCluster(clusterLayout('openmetrics', 'atlas_', { service: 'x' }), merged))
    expect(histogramOf(plain, { window_id: 'global', worker: '0' })).toEqual({ buckets: { '0.5': 1, '0.8': 1, '+Inf': 4 }, sum: 3.5, count: 4 })
    expect(histogramOf(plain, { window_id: 'global', worker: '1' })).toEqual({ buckets: { '0.5': 1, '0.8': 1, '+Inf': 10 }, sum: 9.5, count: 10 })
    // The same order as the other families: window_id, worker, then le, then the constant labels.
    expect(plain).toContain('\natlas_stability_score_bucket{window_id="global",worker="1",le="0.8"} 1\natlas_stability_score_bucket{window_id="global",worker="1",le="+Inf"} 10\n')
    expect(om).toContain('\natlas_stability_score_bucket{window_id="global",worker="0",le="0.5",service="x"} 1\n')
    expect(om).toContain('\natlas_stability_score_count{window_id="global",worker="0",service="x"} 4\n')
    expect(promtool(plain)).toEqual({ status: 0, output: '' })
    expect(pythonParse([{ text: plain, format: 'prometheus' }, { text: om, format: 'openmetrics' }]).map((v) => v.ok)).toEqual([true, true])
  })

  it('aggregate mode sums buckets, sum and count per window, keeping a dead slot\'s counts', () => {
    const merger = new ClusterMerger('aggregate')
    merger.ingest(0, 1, toWorkerSnapshot(histWorker(4).snapshot()))
    const b = merger.ingest(1, 2, toWorkerSnapshot(histWorker(10).snapshot()))
    // Slot 0 does not answer: its histogram still counts.
    const out = new TextDecoder().decode(renderCluster(clusterLayout('prometheus'), merger.merge([undefined, b])))
    expect(histogramOf(out, { window_id: 'global' })).toEqual({ buckets: { '0.5': 2, '0.8': 2, '+Inf': 14 }, sum: 13, count: 14 })
    const om = new TextDecoder().decode(renderCluster(clusterLayout('openmetrics'), merger.merge([undefined, b])))
    expect(om).toContain('\natlas_stability_score_bucket{window_id="global",le="+Inf"} 14\n')
    expect(promtool(out)).toEqual({ status: 0, output: '' })
    expect(pythonParse([{ text: out, format: 'prometheus' }, { text: om, format: 'openmetrics' }]).map((v) => v.ok)).toEqual([true, true])
  })

  it('carries a slot\'s histogram to the process that takes it over, and after a reading that went back', () => {
    for (const mode of ['worker', 'aggregate'] as const) {
      const merger = new ClusterMerger(mode)
      const labels = mode === 'worker' ? { window_id: 'global', worker: '0' } : { window_id: 'global' }
      merger.ingest(0, 1, toWorkerSnapshot(histWorker(10).snapshot()))
      // A new process in slot 0 (the old one was killed): 3 ticks of its own on top of 10.
      const respawned = text(merger, [merger.ingest(0, 2, toWorkerSnapshot(histWorker(3).snapshot()))])
      expect(histogramOf(respawned, labels), mode).toEqual({ buckets: { '0.5': 2, '0.8': 2, '+Inf': 13 }, sum: 12, count: 13 })
      // The same process reads lower (its exporter forgot the window): its 3 are kept, 1 more counts.
      const forgot = text(merger, [merger.ingest(0, 2, toWorkerSnapshot(histWorker(1).snapshot()))])
      expect(histogramOf(forgot, labels), mode).toEqual({ buckets: { '0.5': 3, '0.8': 3, '+Inf': 14 }, sum: 12.5, count: 14 })
    }
  })

  it('a process with other bounds continues every series it shares and starts the new ones from what was counted below them', () => {
    const merger = new ClusterMerger('worker')
    merger.ingest(0, 1, toWorkerSnapshot(histWorker(10).snapshot()))
    const out = text(merger, [merger.ingest(0, 2, toWorkerSnapshot(histWorker(3, [0.25, 0.5, 0.9]).snapshot()))])
    // le 0.25: nothing at or below it before (the old bounds start at 0.5), nothing now; le 0.5: 1 + 1;
    // le 0.9: the 1 counted at or below 0.8 before, + 1; +Inf, sum and count carry whole.
    expect(histogramOf(out, { window_id: 'global', worker: '0' })).toEqual({ buckets: { '0.25': 0, '0.5': 2, '0.9': 2, '+Inf': 13 }, sum: 12, count: 13 })
  })

  it('does not count a reading twice when its bounds come back in another array (after many distinct bound sets)', () => {
    const merger = new ClusterMerger('worker')
    merger.ingest(0, 1, toWorkerSnapshot(histWorker(4).snapshot()))
    // Slot 1 sends 1,100 distinct sets of bounds: the merger's table of bound sets fills and starts again.
    const other = toWorkerSnapshot(histWorker(2).snapshot())
    for (let i = 0; i < 1100; i++) merger.ingest(1, 2, { ...other, values: other.values.slice(), histograms: { ...other.histograms!, bounds: [[0.5 + i / 100_000, 0.9]], values: other.histograms!.values.slice() } })
    const out = text(merger, [merger.ingest(0, 1, toWorkerSnapshot(histWorker(5).snapshot()))])
    expect(histogramOf(out, { window_id: 'global', worker: '0' })).toEqual({ buckets: { '0.5': 1, '0.8': 1, '+Inf': 5 }, sum: 4.5, count: 5 })
  })

  it('aggregate mode over workers that disagree on bounds keeps the bounds they all have (exact sums)', () => {
    const merger = new ClusterMerger('aggregate')
    const parts = [merger.ingest(0, 1, toWorkerSnapshot(histWorker(4, [0.5, 0.8]).snapshot())), merger.ingest(1, 2, toWorkerSnapshot(histWorker(10, [0.25, 0.5, 0.9]).snapshot()))]
    const out = text(merger, parts)
    expect(histogramOf(out, { window_id: 'global' })).toEqual({ buckets: { '0.5': 2, '+Inf': 14 }, sum: 13, count: 14 })
    expect(promtool(out)).toEqual({ status: 0, output: '' })
    // With no bound in common, only +Inf is left.
    const none = new ClusterMerger('aggregate')
    const apart = text(none, [none.ingest(0, 1, toWorkerSnapshot(histWorker(4, [0.3]).snapshot())), none.ingest(1, 2, toWorkerSnapshot(histWorker(10, [0.6]).snapshot()))])
    expect(histogramOf(apart, { window_id: 'global' })).toEqual({ buckets: { '+Inf': 14 }, sum: 13, count: 14 })
  })

  it('never lowers a bucket, the sum or the count, whatever the processes, readings and bounds (property, against an exact oracle)', () => {
    const BOUNDS = [[0.5, 0.8], [0.25, 0.5, 0.9]] as const
    fc.assert(
      fc.property(
        fc.array(fc.record({ slot: fc.integer({ min: 0, max: 2 }), restart: fc.boolean(), ticks: fc.integer({ min: 0, max: 4 }), forget: fc.boolean(), bounds: fc.integer({ min: 0, max: 1 }) }), { minLength: 1, maxLength: 30 }),
        fc.constantFrom('worker' as const, 'aggregate' as const),
        (steps, mode) => {
          const merger = new ClusterMerger(mode)
          const proc = [0, 0, 0]
          const raw = [0, 0, 0]
          const bounds = [0, 0, 0]
          const lastRaw = [0, 0, 0]
          const exported = [0, 0, 0]
          const seen = new Map<string, number>()
          for (const step of steps) {
            const slot = step.slot
            if (step.restart) {
              proc[slot]!++
              raw[slot] = 0
              bounds[slot] = step.bounds
            } else if (step.forget) raw[slot] = 0
            raw[slot]! += step.ticks
            const snap = histWorker(raw[slot]!, BOUNDS[bounds[slot]!]).snapshot()
            const part = merger.ingest(slot, proc[slot]!, toWorkerSnapshot(snap))
            // Oracle (the count): a restart or a reading that went back adds the whole reading, else what grew since the last one.
            const last = lastRaw[slot]!
            if (raw[slot]! > 0) {
              exported[slot]! += step.restart || raw[slot]! < last ? raw[slot]! : raw[slot]! - last
              lastRaw[slot] = raw[slot]!
            } else if (step.restart) lastRaw[slot] = 0
            const parts: (IngestedSnapshot | undefined)[] = []
            parts[slot] = part
            const out = text(merger, parts)
            if (raw[slot] === 0) continue
            const h = histogramOf(out, mode === 'worker' ? { window_id: 'global', worker: String(slot) } : { window_id: 'global' })
            expect(h.count).toBe(mode === 'worker' ? exported[slot] : exported.reduce((a, b) => a + b, 0))
            expect(h.buckets['+Inf']).toBe(h.count)
            // Cumulative, and no series ever lower than before.
            const les = Object.keys(h.buckets).sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : Number(a) - Number(b)))
            for (let k = 1; k < les.length; k++) expect(h.buckets[les[k]!]!).toBeGreaterThanOrEqual(h.buckets[les[k - 1]!]!)
            for (const [le, v] of [...Object.entries(h.buckets), ['sum', h.sum!] as const, ['count', h.count!] as const]) {
              const key = `${String(mode === 'worker' ? slot : '')}/${le}`
              expect(v, key).toBeGreaterThanOrEqual(seen.get(key) ?? 0)
              seen.set(key, v)
            }
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  it('refuses malformed histogram data from a worker, and a good one with histograms passes', () => {
    const good = toWorkerSnapshot(histWorker(4).snapshot())
    expect(good.histograms?.bounds).toEqual([[0.5, 0.8]])
    expect([...good.histograms!.set]).toEqual([0])
    expect([...good.histograms!.values]).toEqual([1, 1, 4, 3.5, 4])
    expect(workerSnapshotProblem(good)).toBe(null)
    const h = good.histograms!
    const bad = (histograms: unknown): string | null => workerSnapshotProblem({ ...good, histograms })
    expect(bad(null)).toBe('histograms is not an object')
    expect(bad({ ...h, bounds: 'x' })).toBe('histogram bounds are not an array of at most one set per window')
    expect(bad({ ...h, bounds: [[0.5], [0.8]] })).toBe('histogram bounds are not an array of at most one set per window')
    expect(bad({ ...h, bounds: [[]] })).toBe('histogram bounds are not 1 to 64 numbers')
    expect(bad({ ...h, bounds: [Array.from({ length: 65 }, (_, i) => i)] })).toBe('histogram bounds are not 1 to 64 numbers')
    expect(bad({ ...h, bounds: [[0.8, 0.5]] })).toBe('histogram bounds are not finite and strictly increasing')
    expect(bad({ ...h, bounds: [[0.5, Number.NaN]] })).toBe('histogram bounds are not finite and strictly increasing')
    expect(bad({ ...h, bounds: [[0.5, '0.8']] })).toBe('histogram bounds are not finite and strictly increasing')
    expect(bad({ ...h, set: [0] })).toBe('histogram set is not an Int32Array of one entry per window')
    expect(bad({ ...h, set: new Int32Array([1]) })).toBe('histogram set names a bound set that does not exist')
    expect(bad({ ...h, set: new Int32Array([-2]) })).toBe('histogram set names a bound set that does not exist')
    expect(bad({ ...h, values: new Float64Array(4) })).toBe('histogram values are not a Float64Array of one histogram per window that has one')
    expect(bad({ ...h, values: [1, 1, 4, 3.5, 4] })).toBe('histogram values are not a Float64Array of one histogram per window that has one')
    expect(bad({ ...h, values: new Float64Array([1, Number.NaN, 4, 3.5, 4]) })).toBe('histogram counts are not finite, non-negative and cumulative')
    expect(bad({ ...h, values: new Float64Array([-1, 1, 4, 3.5, 4]) })).toBe('histogram counts are not finite, non-negative and cumulative')
    expect(bad({ ...h, values: new Float64Array([2, 1, 4, 3.5, 4]) })).toBe('histogram counts are not finite, non-negative and cumulative')
    expect(bad({ ...h, values: new Float64Array([1, 1, Infinity, 3.5, Infinity]) })).toBe('histogram counts are not finite, non-negative and cumulative')
    expect(bad({ ...h, values: new Float64Array([1, 1, 4, Number.NaN, 4]) })).toBe('histogram sum is not finite, or the count is not the +Inf bucket')
    expect(bad({ ...h, values: new Float64Array([1, 1, 4, 3.5, 5]) })).toBe('histogram sum is not finite, or the count is not the +Inf bucket')
    // A hostile snapshot is refused before it touches the slot's carried counts.
    const merger = new ClusterMerger('worker')
    merger.ingest(0, 1, toWorkerSnapshot(histWorker(4).snapshot()))
    expect(() => merger.ingest(0, 1, { ...good, histograms: { ...h, values: new Float64Array([1, 1, 1e300, 3.5, 1e300]).fill(Number.NaN, 2, 3) } })).toThrow(
      new RangeError('ClusterMerger.ingest: not a worker snapshot: histogram counts are not finite, non-negative and cumulative'),
    )
    const out = text(merger, [merger.ingest(0, 1, toWorkerSnapshot(histWorker(5).snapshot()))])
    expect(histogramOf(out, { window_id: 'global', worker: '0' })).toEqual({ buckets: { '0.5': 1, '0.8': 1, '+Inf': 5 }, sum: 4.5, count: 5 })
  })

  it('a worker without histograms sends none, and the merge has no histogram series', () => {
    const plain = toWorkerSnapshot(worker(3, 9).exporter.snapshot())
    expect(plain.histograms).toBe(undefined)
    const merger = new ClusterMerger('aggregate')
    expect(merger.merge([merger.ingest(0, 1, plain)]).scoreHistograms).toBe(undefined)
  })
})
