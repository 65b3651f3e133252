// @ts-check
/**
 * One benchmark case per process: `node --expose-gc bench/cases.js <case>`
 * prints `{ name, avgNs, p50Ns }` as JSON; bench/index.js runs them all.
 * Baseline: prom-client used the way a user would, with one Gauge (or
 * Counter) per family and `labels(id).set(v)`.
 */
import { StabilityTracker, StabilityWindows, MODE_TO_NUMERIC } from '@auris/stability-core'
import { ChunkWriter, createStabilityExporter, FAMILIES, SnapshotRenderer } from '@auris/prom-exporter'
import { createStabilityExporter as createOnRegistry } from '@auris/prom-exporter/prom-client'
import { bench, do_not_optimize, run } from 'mitata'
import { Counter, Gauge, Registry } from 'prom-client'

const TICKS = 1024
const scores = new Float64Array(4096)
for (let i = 0, s = 0.8; i < scores.length; i++) {
  s = Math.min(1, Math.max(0.6, s + (Math.sin(i * 12.9898) * 43758.5453 % 1) * 0.01))
  scores[i] = s
}
let cursor = 0

/** A registry of `n` windows with some history, filters included. */
function busyWindows(n) {
  const windows = new StabilityWindows({ maxWindows: n, tracker: { minStableTicks: 30 } })
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < n; i++) windows.tick(`window-${String(i)}`, scores[(round * 31 + i) & 4095], (round + i) % 17 === 0)
  }
  return windows
}

/** prom-client, the usual way: a metric per family with a window_id label. */
function promClientDirect(families) {
  const registry = new Registry()
  const metrics = {}
  for (const f of families) {
    const Kind = f.type === 'counter' ? Counter : Gauge
    metrics[f.suffix] = new Kind({ name: `atlas_${f.suffix}`, help: f.help, labelNames: ['window_id'], registers: [registry] })
  }
  return { registry, metrics }
}

/** Sets every window family from the registry's trackers and filters, as a push exporter on prom-client would. */
function fillDirect(direct, windows) {
  const m = direct.metrics
  windows.forEach((w) => {
    const t = w.tracker
    const h = w.hysteresis.getMetrics()
    const l = { window_id: w.id }
    m.stability_score.set(l, t.stabilityScore())
    m.stability_score_ema.set(l, t.stabilityScoreEma())
    m.degradation_events_per_hour.set(l, t.degradationEventsPerHour())
    m.recommended_fab_mode.set(l, MODE_TO_NUMERIC[t.recommendMode()])
    m.stable_ticks.set(l, t.stableTicks)
    m.degradation_count_total.inc(l, t.totalDegradations)
    m.hyst_effective_mode.set(l, MODE_TO_NUMERIC[h.effectiveMode])
    m.hyst_desired_mode.set(l, MODE_TO_NUMERIC[h.desiredMode])
    m.hyst_dwell_ticks.set(l, h.dwellCounter)
    m.hyst_last_switch_age_ticks.set(l, h.lastSwitchAge ?? 0)
    m.hyst_switches_total.inc(l, h.switchCount)
    m.hyst_oscillations_total.inc(l, h.oscCount)
    m.hyst_switches_per_second.set(l, h.switchRatePerSec)
    m.hyst_oscillations_per_second.set(l, h.oscillationRatePerSec)
  })
}

const DESIGN_14 = FAMILIES.filter((f) => f.scope !== 'exporter' && !['cooldown_remaining_ticks', 'invalid_samples_total', 'clamped_samples_total'].includes(f.suffix))
const STABILITY_6 = DESIGN_14.filter((f) => f.scope === 'window')

export const CASES = {
  // Per-tick cost of keeping metrics current (a degradation every 1024 ticks).
  'tick-prom-client-labels-set': {
    perTick: true,
    setup: () => {
      const tracker = new StabilityTracker()
      const { metrics: m } = promClientDirect(STABILITY_6)
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          tracker.tick(scores[n & 4095], (n & 1023) === 1023)
          m.stability_score.labels('global').set(tracker.stabilityScore())
          m.stability_score_ema.labels('global').set(tracker.stabilityScoreEma())
          m.degradation_events_per_hour.labels('global').set(tracker.degradationEventsPerHour())
          m.recommended_fab_mode.labels('global').set(MODE_TO_NUMERIC[tracker.recommendMode()])
          m.stable_ticks.labels('global').set(tracker.stableTicks)
          const total = tracker.totalDegradations
          const counter = m.degradation_count_total.labels('global')
          if ((n & 1023) === 1023) counter.inc(total > 0 ? 1 : 0)
        }
      }
    },
  },
  'tick-prom-client-cached-child': {
    perTick: true,
    setup: () => {
      const tracker = new StabilityTracker()
      const { metrics: m } = promClientDirect(STABILITY_6)
      const c = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.labels('global')]))
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          tracker.tick(scores[n & 4095], (n & 1023) === 1023)
          c.stability_score.set(tracker.stabilityScore())
          c.stability_score_ema.set(tracker.stabilityScoreEma())
          c.degradation_events_per_hour.set(tracker.degradationEventsPerHour())
          c.recommended_fab_mode.set(MODE_TO_NUMERIC[tracker.recommendMode()])
          c.stable_ticks.set(tracker.stableTicks)
          if ((n & 1023) === 1023) c.degradation_count_total.inc(1)
        }
      }
    },
  },
  'tick-ours-pull': {
    perTick: true,
    setup: () => {
      const tracker = new StabilityTracker()
      const exporter = createStabilityExporter()
      exporter.track('global', tracker)
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          tracker.tick(scores[n & 4095], (n & 1023) === 1023)
        }
      }
    },
  },
  'tick-ours-push': {
    perTick: true,
    setup: () => {
      const tracker = new StabilityTracker()
      const exporter = createStabilityExporter()
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          tracker.tick(scores[n & 4095], (n & 1023) === 1023)
          exporter.update('global', tracker)
        }
      }
    },
  },
}

for (const n of [1000, 10000]) {
  CASES[`render-prom-client-${String(n)}`] = {
    perTick: false,
    async: true,
    setup: () => {
      const windows = busyWindows(n)
      const direct = promClientDirect(DESIGN_14)
      fillDirect(direct, windows)
      return async () => do_not_optimize(await direct.registry.metrics())
    },
  }
  CASES[`render-ours-${String(n)}`] = {
    perTick: false,
    async: true,
    setup: () => {
      const windows = busyWindows(n)
      const exporter = createStabilityExporter({ maxWindows: n })
      exporter.track(windows)
      return async () => do_not_optimize(await exporter.metrics())
    },
  }
}

const CONST_LABELS = { service: 'fab-core', instance: 'host-17.example:8010' }

/** The same integer/float formatting as the renderer, for the floor loop. */
function formatInto(buf, at, v) {
  if (Number.isInteger(v) && v > -1e15 && v < 1e15) {
    if (v === 0) {
      buf[at] = 48
      return at + 1
    }
    if (v < 0) {
      buf[at++] = 45
      v = -v
    }
    let digits = 1
    for (let p = 10; p <= v; p *= 10) digits++
    let end = at + digits
    const last = end
    while (v > 0) {
      const q = Math.floor(v / 10)
      buf[--end] = 48 + (v - q * 10)
      v = q
    }
    return last
  }
  const text = `${v}`
  for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i)
  return at
}

function copy(buf, at, src, from, to) {
  for (let k = from; k < to; k++) buf[at++] = src[k]
  return at
}

/**
 * The floor: what any renderer of these samples must do at least. Copies
 * the same line-start, label and line-end bytes and formats the same numbers
 * into one preallocated buffer: no headers, no chunks, no checks.
 */
function floorRender(layout, snap, buf) {
  let at = 0
  const F = layout.windowFamilies.length
  for (let f = 0; f < F; f++) {
    const { start, end, required } = layout.windowFamilies[f]
    for (let i = 0; i < snap.size; i++) {
      if ((snap.present[i] & required) !== required) continue
      const from = i === 0 ? 0 : snap.labelEnds[i - 1]
      const to = snap.labelEnds[i]
      const labels = snap.labelBytes
      at = copy(buf, at, start, 0, start.length)
      at = copy(buf, at, labels, from, to)
      at = copy(buf, at, end, 0, end.length)
      at = formatInto(buf, at, snap.values[i * F + f])
    }
  }
  return at
}

/** Our renderer over a fixed snapshot: the chunks of one exposition. */
function ourRender(layout, snap, writer) {
  const renderer = new SnapshotRenderer(layout, snap)
  let bytes = 0
  for (;;) {
    const done = renderer.step(writer)
    for (const c of writer.take()) bytes += c.length
    if (done) return bytes
  }
}

for (const n of [1000, 10000]) {
  for (const format of ['prometheus', 'openmetrics']) {
    for (const labels of ['plain', 'const']) {
      const setup = () => {
        const exporter = createStabilityExporter({ maxWindows: n, ...(labels === 'const' ? { constLabels: CONST_LABELS } : {}) })
        exporter.track(busyWindows(n))
        return { layout: exporter.layout(format), snap: exporter.snapshot() }
      }
      // Renderer and floor in one process, alternating sample by sample (mitata runs the two
      // benches of one run back to back): on a shared, loaded machine, load drifts between
      // processes, and a ratio is only meaningful between figures taken together.
      CASES[`pair-${format}-${labels}-${String(n)}`] = {
        perTick: false,
        pair: () => {
          const { layout, snap } = setup()
          const writer = new ChunkWriter()
          const buf = new Uint8Array(n * 17 * 200)
          return { renderer: () => ourRender(layout, snap, writer), floor: () => floorRender(layout, snap, buf) }
        },
      }
    }
  }
  // A whole scrape: read the sources, render, in slices (what the route does).
  CASES[`scrape-ours-openmetrics-${String(n)}`] = {
    perTick: false,
    async: true,
    setup: () => {
      const exporter = createStabilityExporter({ maxWindows: n })
      exporter.track(busyWindows(n))
      return async () => {
        let bytes = 0
        for await (const c of exporter.expose('openmetrics')) bytes += c.length
        return do_not_optimize(bytes)
      }
    },
  }
  // prom-client adapter: registry.metrics() with our families, against prom-client gauges holding the same values.
  CASES[`adapter-registry-${String(n)}`] = {
    perTick: false,
    async: true,
    setup: () => {
      const exporter = createOnRegistry({ maxWindows: n })
      exporter.track(busyWindows(n))
      return async () => do_not_optimize(await exporter.registry.metrics())
    },
  }
  CASES[`gauges-holding-${String(n)}`] = {
    perTick: false,
    async: true,
    setup: async () => {
      const source = createOnRegistry({ maxWindows: n })
      source.track(busyWindows(n))
      // The exact families, values and label sets the adapter exports, held by plain prom-client metrics.
      const registry = holding(await source.registry.getMetricsAsJSON())
      return async () => do_not_optimize(await registry.metrics())
    },
  }
}

/** prom-client Gauges and Counters holding the values of `json` (getMetricsAsJSON output). */
function holding(json) {
  const registry = new Registry()
  for (const family of json) {
    const labelNames = [...new Set(family.values.flatMap((v) => Object.keys(v.labels)))]
    const Kind = family.type === 'counter' ? Counter : Gauge
    const metric = new Kind({ name: family.name, help: family.help, labelNames, registers: [registry] })
    for (const v of family.values) {
      if (family.type === 'counter') metric.inc(v.labels, v.value)
      else metric.set(v.labels, v.value)
    }
  }
  return registry
}

const name = process.argv[2]
if (name !== undefined) {
  const c = CASES[name]
  if (c === undefined) throw new Error(`unknown case ${name}; known: ${Object.keys(CASES).join(', ')}`)
  if (c.pair !== undefined) {
    const { renderer, floor } = c.pair()
    // Warm both, then alternate 400 timed samples of each.
    for (let i = 0; i < 50; i++) do_not_optimize(renderer() + floor())
    const a = []
    const b = []
    for (let i = 0; i < 400; i++) {
      let t = process.hrtime.bigint()
      do_not_optimize(renderer())
      a.push(Number(process.hrtime.bigint() - t))
      t = process.hrtime.bigint()
      do_not_optimize(floor())
      b.push(Number(process.hrtime.bigint() - t))
    }
    const median = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]
    console.log(JSON.stringify({ name, p50Ns: median(a), floorP50Ns: median(b), ratio: median(a) / median(b) }))
    process.exit(0)
  }
  bench(name, await c.setup())
  const { benchmarks } = await run({ format: 'quiet' })
  const stats = benchmarks[0]?.runs[0]?.stats
  if (stats === undefined) throw new Error(`case ${name} produced no statistics`)
  const div = c.perTick ? TICKS : 1
  console.log(JSON.stringify({ name, avgNs: stats.avg / div, p50Ns: stats.p50 / div, p99Ns: stats.p99 / div, maxNs: stats.max / div }))
}
