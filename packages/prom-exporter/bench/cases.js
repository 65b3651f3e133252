// @ts-check
/**
 * One benchmark case per process: `node --expose-gc bench/cases.js <case>`
 * prints `{ name, avgNs, p50Ns }` as JSON; bench/index.js runs them all.
 * Baseline: prom-client used the way a user would, with one Gauge (or
 * Counter) per family and `labels(id).set(v)`.
 */
import { StabilityTracker, StabilityWindows, MODE_TO_NUMERIC } from '@auris/stability-core'
import { createStabilityExporter, FAMILIES } from '@auris/prom-exporter'
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

const name = process.argv[2]
if (name !== undefined) {
  const c = CASES[name]
  if (c === undefined) throw new Error(`unknown case ${name}; known: ${Object.keys(CASES).join(', ')}`)
  bench(name, c.setup())
  const { benchmarks } = await run({ format: 'quiet' })
  const stats = benchmarks[0]?.runs[0]?.stats
  if (stats === undefined) throw new Error(`case ${name} produced no statistics`)
  const div = c.perTick ? TICKS : 1
  console.log(JSON.stringify({ name, avgNs: stats.avg / div, p50Ns: stats.p50 / div, p99Ns: stats.p99 / div, maxNs: stats.max / div }))
}
