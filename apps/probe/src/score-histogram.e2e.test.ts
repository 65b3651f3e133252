import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { metricsRoutes } from '@auris/metrics-http'
import { createStabilityExporter } from '@auris/prom-exporter'
import { DEFAULT_SCORE_BUCKETS, StabilityWindows } from '@auris/stability-core'
import { eventually, freePort } from '@auris/test-support'
import { startPrometheus, type Prometheus } from '@auris/test-support/prometheus'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededRandom } from './random.js'

/**
 * The score histogram end to end: a Hono server on Node exports windows
 * that ran a known score sequence, a real Prometheus (Debian's
 * `prometheus`) scrapes it, and `histogram_quantile` over the exported
 * buckets must land in the bucket of the exact quantile of the run's
 * per-tick scores. The windows stop ticking before the first scrape, so
 * every scrape sees the same, complete run.
 */

const BOUNDS = DEFAULT_SCORE_BUCKETS
const QUANTILES = [0.5, 0.95, 0.99] as const

/** Per window: its ticks and the probability of a degradation per tick (the quantiles they make are pinned below). */
const RUNS = {
  steady: { ticks: 3000, p: 0.005 },
  rough: { ticks: 2000, p: 0.03 },
  'a "hostile" id': { ticks: 500, p: 0.015 },
  struggling: { ticks: 1000, p: 0.08 },
} as const

const scores = new Map<string, number[]>()
let server: ServerType | undefined
let prometheus: Prometheus | undefined
let work = ''
let promUrl = ''

interface Sample {
  metric: Record<string, string>
  value: [number, string]
}

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = (await res.json()) as { status: string; data: { result: Sample[] }; error?: string }
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error ?? String(res.status)}`)
  return body.data.result
}

/** The exact q-quantile of `values`: the smallest value with at least q of them at or below it (the rank Prometheus interpolates in). */
function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number
}

/** The bucket `[lower, upper]` holding `value`, as histogram_quantile sees buckets (the first one starts at 0, or is its bound when that is <= 0). */
function bucketOf(value: number): [number, number] {
  const j = BOUNDS.findIndex((b) => value <= b)
  const upper = BOUNDS[j] as number
  if (j === 0) return [Math.min(0, upper), upper]
  return [BOUNDS[j - 1] as number, upper]
}

beforeAll(async () => {
  const random = seededRandom(7)
  // A cool-down of at most 20 ticks, so the score keeps climbing back through every bucket.
  const windows = new StabilityWindows({ tracker: { minStableTicks: 30, cooldownMaxTicks: 20, scoreBuckets: BOUNDS }, clock: () => 0 })
  for (const [id, run] of Object.entries(RUNS)) {
    const seen: number[] = []
    const handle = windows.acquire(id)
    if (handle === undefined) throw new Error(`window ${id} refused`)
    for (let t = 0; t < run.ticks; t++) {
      // Quality drifts within 0.05 (never a drop that counts as a degradation); degradations come as reported.
      handle.tick(0.85 + 0.05 * random(), random() < run.p)
      seen.push(handle.tracker.stabilityScore())
    }
    scores.set(id, seen)
  }
  const exporter = createStabilityExporter({ constLabels: { service: 'slo-e2e' } })
  exporter.track(windows)
  const app = new Hono()
  app.route('/metrics/exp', metricsRoutes({ sources: exporter, enabled: true }))
  const port = await freePort()
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port })

  work = mkdtempSync(join(tmpdir(), 'auris-slo-e2e-'))
  prometheus = await startPrometheus(
    work,
    ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: slo', '    metrics_path: /metrics/exp', '    static_configs:', `      - targets: ['127.0.0.1:${String(port)}']`, ''].join('\n'),
  )
  promUrl = prometheus.url
  await eventually('the histogram to be scraped', async () => ((await query('atlas_stability_score_count')).length === Object.keys(RUNS).length ? true : undefined), 60_000)
}, 120_000)

afterAll(async () => {
  await prometheus?.stop()
  await new Promise<void>((resolve) => {
    if (server === undefined) resolve()
    else
      server.close(() => {
        resolve()
      })
  })
  if (work !== '') rmSync(work, { recursive: true, force: true })
}, 30_000)

describe('the score histogram scraped by a real Prometheus', () => {
  it('holds the run: count and sum per window', async () => {
    const count = await query('atlas_stability_score_count')
    const sum = await query('atlas_stability_score_sum')
    for (const [id, seen] of scores) {
      expect(Number(count.find((s) => s.metric.window_id === id)?.value[1])).toBe(seen.length)
      const exact = seen.reduce((a, s) => a + s, 0)
      expect(Math.abs(Number(sum.find((s) => s.metric.window_id === id)?.value[1]) - exact)).toBeLessThanOrEqual(1e-9 * seen.length)
    }
    // The const label made it through, on every histogram series.
    expect(new Set((await query('atlas_stability_score_bucket')).map((s) => s.metric.service))).toEqual(new Set(['slo-e2e']))
  })

  it('ran a sequence whose exact quantiles spread over the buckets (seed 7)', () => {
    const exact = Object.fromEntries([...scores].map(([id, seen]) => [id, QUANTILES.map((q) => exactQuantile(seen, q))]))
    expect(exact).toEqual({ steady: [1, 1, 1], rough: [4 / 30, 1, 1], 'a "hostile" id': [25 / 30, 1, 1], struggling: [0, 21 / 30, 1] })
  })

  it('gives p50, p95 and p99 per window within the bucket of the exact quantile of the per-tick scores', async () => {
    for (const q of QUANTILES) {
      const result = await query(`histogram_quantile(${String(q)}, atlas_stability_score_bucket)`)
      for (const [id, seen] of scores) {
        const estimate = Number(result.find((s) => s.metric.window_id === id)?.value[1])
        const exact = exactQuantile(seen, q)
        const [lower, upper] = bucketOf(exact)
        expect(estimate, `p${String(q * 100)} of ${id}: exact ${String(exact)}`).toBeGreaterThanOrEqual(lower)
        expect(estimate, `p${String(q * 100)} of ${id}: exact ${String(exact)}`).toBeLessThanOrEqual(upper)
      }
    }
  })

  it('aggregates across windows: sum by (le) gives the quantiles of all windows’ scores together', async () => {
    const all = [...scores.values()].flat()
    for (const q of QUANTILES) {
      const [sample] = await query(`histogram_quantile(${String(q)}, sum by (le) (atlas_stability_score_bucket))`)
      const exact = exactQuantile(all, q)
      const [lower, upper] = bucketOf(exact)
      expect(Number(sample?.value[1])).toBeGreaterThanOrEqual(lower)
      expect(Number(sample?.value[1])).toBeLessThanOrEqual(upper)
    }
    // The time share below 0.8 (the SLO's "time below target"), exact from the cumulative counts.
    const [below] = await query('sum(atlas_stability_score_bucket{le="0.8"}) / sum(atlas_stability_score_count)')
    expect(Number(below?.value[1])).toBeCloseTo(all.filter((s) => s <= 0.8).length / all.length, 12)
  })
})
