import { DEFAULT_SCORE_BUCKETS, Hysteresis, StabilityTracker, StabilityWindows, windowIdProblem, type FabMode } from '@auris/stability-core'
import fc from 'fast-check'
import { Counter, Gauge, Registry, type OpenMetricsContentType, type RegistryContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import type { StabilityExporter } from './exporter.js'
import { createStabilityExporter } from './prom-client.js'
import { FAMILIES } from './names.js'
import { parseExposition } from './testing/exposition.js'

/** Window ids as hostile as a label value may be: quotes, backslashes, unicode, look-alikes of syntax. */
const windowId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.constantFrom('global', 'a"b', 'back\\slash', '"', '\\', '\\"', 'x="y"', 'a,b', '{}', 'é😀', '__proto__', 'constructor', ' '),
).filter((id) => windowIdProblem(id) === null)

/** Bucket sets a window may have: none, the defaults, or random strictly increasing bounds (some outside [0, 1]). */
const buckets = fc.oneof(
  fc.constant(undefined),
  fc.constant(DEFAULT_SCORE_BUCKETS),
  fc.uniqueArray(fc.double({ min: -1, max: 2, noNaN: true }), { minLength: 1, maxLength: 8 }).map((b) => [...new Set(b.map((x) => (x === 0 ? 0 : x)))].sort((x, y) => x - y)),
)

const step = fc.record({ score: fc.double({ min: -0.5, max: 1.5, noNaN: true }), degraded: fc.boolean() })
const modes = fc.constantFrom<FabMode>('FAB0', 'FAB1', 'FAB2')

/**
 * The same state exported the way a user of prom-client would: one Gauge or
 * Counter per family with a window_id label, set from each tracker (the
 * histogram's families as gauges, whose TYPE the caller rewrites to untyped).
 */
function viaPromClient(exporter: StabilityExporter, windows: readonly { id: string; tracker: StabilityTracker; filter: Hysteresis }[]): Registry {
  const registry = new Registry()
  const n = exporter.names
  const metric = (suffix: keyof typeof n, labelNames: string[] = ['window_id']): Gauge | Counter => {
    const spec = FAMILIES.find((f) => f.suffix === suffix)!
    const Kind = spec.type === 'counter' ? Counter : Gauge
    return new Kind({ name: n[suffix], help: spec.help, labelNames, registers: [registry] })
  }
  const set = (m: Gauge | Counter, labels: Record<string, string>, value: number): void => {
    if (m instanceof Counter) m.inc(labels, value)
    else m.set(labels, value)
  }
  const labelNames = (f: (typeof FAMILIES)[number]): string[] =>
    f.scope === 'exporter' ? (f.suffix === 'windows_rejected_total' ? ['reason'] : []) : f.suffix === 'stability_score_bucket' ? ['window_id', 'le'] : ['window_id']
  const all = Object.fromEntries(FAMILIES.map((f) => [f.suffix, metric(f.suffix, labelNames(f))]))
  const mode = { FAB0: 0, FAB1: 1, FAB2: 2 }
  for (const { id, tracker: t, filter: h } of windows) {
    const l = { window_id: id }
    const hm = h.getMetrics()
    set(all.stability_score!, l, t.stabilityScore())
    set(all.stability_score_ema!, l, t.stabilityScoreEma())
    set(all.degradation_events_per_hour!, l, t.degradationEventsPerHour())
    set(all.recommended_fab_mode!, l, mode[t.recommendMode()])
    set(all.stable_ticks!, l, t.stableTicks)
    set(all.degradation_count_total!, l, t.totalDegradations)
    set(all.cooldown_remaining_ticks!, l, t.cooldownRemaining)
    set(all.invalid_samples_total!, l, t.invalidSamples)
    set(all.clamped_samples_total!, l, t.clampedSamples)
    set(all.hyst_effective_mode!, l, mode[hm.effectiveMode])
    set(all.hyst_desired_mode!, l, mode[hm.desiredMode])
    set(all.hyst_dwell_ticks!, l, hm.dwellCounter)
    if (hm.lastSwitchAge !== null) set(all.hyst_last_switch_age_ticks!, l, hm.lastSwitchAge)
    set(all.hyst_switches_total!, l, hm.switchCount)
    set(all.hyst_oscillations_total!, l, hm.oscCount)
    set(all.hyst_switches_per_second!, l, hm.switchRatePerSec)
    set(all.hyst_oscillations_per_second!, l, hm.oscillationRatePerSec)
    const histogram = t.getScoreHistogram()
    if (histogram !== null) {
      for (const [i, count] of histogram.counts.entries()) {
        set(all.stability_score_bucket!, { window_id: id, le: i < histogram.buckets.length ? String(histogram.buckets[i]) : '+Inf' }, count)
      }
      set(all.stability_score_sum!, l, histogram.sum)
      set(all.stability_score_count!, l, histogram.count)
    }
  }
  set(all.windows!, {}, windows.length)
  for (const reason of ['invalid_id', 'capacity', 'duplicate']) set(all.windows_rejected_total!, { reason }, 0)
  set(all.windows_evicted_total!, {}, 0)
  return registry
}

describe('the fast renderer agrees with prom-client', () => {
  it('parses identically to prom-client gauges set the usual way, on random windows and hostile ids (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ id: windowId, steps: fc.array(step, { maxLength: 40 }), desired: fc.array(modes, { maxLength: 20 }), buckets }), {
          selector: (w) => w.id,
          maxLength: 12,
        }),
        async (spec) => {
          const exporter = createStabilityExporter()
          const windows = spec.map(({ id, steps, desired, buckets: scoreBuckets }) => {
            const tracker = new StabilityTracker({ minStableTicks: 7, clock: () => 0, ...(scoreBuckets === undefined ? {} : { scoreBuckets }) })
            for (const s of steps) tracker.tick(s.score, s.degraded)
            const filter = new Hysteresis({ dwellTicks: 2, rateLimitTicks: 3, clock: () => 0 })
            for (const [i, m] of desired.entries()) filter.update(m, i)
            exporter.track(id, tracker, filter)
            return { id, tracker, filter }
          })
          const ours = parseExposition(await exporter.metrics())
          const untyped = new RegExp(`^(# TYPE (?:${FAMILIES.filter((f) => f.type === 'untyped').map((f) => `atlas_${f.suffix}`).join('|')})) gauge$`, 'gm')
          const theirs = parseExposition((await viaPromClient(exporter, windows).metrics()).replace(untyped, '$1 untyped'))
          expect(ours).toEqual(theirs)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('is byte-identical to prom-client formatting its own families', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(windowId, { maxLength: 30 }), fc.array(step, { maxLength: 30 }), buckets, async (ids, steps, scoreBuckets) => {
        const windows = new StabilityWindows({ tracker: { minStableTicks: 3, ...(scoreBuckets === undefined ? {} : { scoreBuckets }) }, clock: () => 0 })
        for (const s of steps) for (const id of ids) windows.tick(id, s.score, s.degraded)
        const exporter = createStabilityExporter()
        exporter.track(windows)
        expect(await exporter.metrics()).toBe(await exporter.registry.metrics())
        const openMetrics = new Registry<OpenMetricsContentType>()
        openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
        const om = createStabilityExporter({ registry: openMetrics as unknown as Registry<RegistryContentType> })
        om.track(windows)
        // prom-client writes no # UNIT lines.
        expect(om.render('openmetrics').replace(/\n# UNIT [^\n]*/g, '')).toBe(await om.registry.metrics())
      }),
      { numRuns: 40 },
    )
  })
})
