import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertProbes, alertRules } from '@auris/prom-exporter'
import type { ProbeState } from './serve.js'
import { eventually, freePort, start, type Child } from '@auris/test-support'
import { startPrometheus, type Prometheus } from '@auris/test-support/prometheus'

/**
 * End to end against a real Prometheus (Debian's `prometheus` package):
 * `probe serve` on a free port, Prometheus scraping it every second with
 * the shipped deploy/prometheus.yml, then the HTTP API compared with the
 * probe's own state. Both processes are stopped in afterAll, also when an
 * assertion fails.
 */

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const shippedConfig = fileURLToPath(new URL('../deploy/prometheus.yml', import.meta.url))

let probe: Child | undefined
let prometheus: Prometheus | undefined
let work = ''
let probeUrl = ''
let promUrl = ''
/** The probe's state, sampled every 50 ms with the times its request was sent and answered (ms since the epoch). */
const observed: { at: number; received: number; state: ProbeState }[] = []
let sampling: ReturnType<typeof setInterval> | undefined

interface Sample {
  metric: Record<string, string>
  value: [number, string]
}

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = (await res.json()) as { status: string; data: { result: Sample[] }; error?: string }
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error ?? res.status}`)
  return body.data.result
}

/**
 * The newest stored sample of `expr` with the time of the scrape that took it. An instant query
 * would stamp it with the query's time instead, up to a scrape interval (more on a loaded machine)
 * after the probe was read.
 */
async function one(expr: string): Promise<{ at: number; value: number }> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(`${expr}[10s]`)}`)
  const body = (await res.json()) as { status: string; data: { result: { values: [number, string][] }[] }; error?: string }
  if (body.status !== 'success') throw new Error(`query ${expr}[10s] failed: ${body.error ?? res.status}`)
  const result = body.data.result
  if (result.length !== 1) throw new Error(`${expr} returned ${String(result.length)} series`)
  const values = (result[0] as { values: [number, string][] }).values
  const [at, value] = values[values.length - 1] as [number, string]
  return { at: at * 1000, value: Number(value) }
}

/** The probe values read within `slackMs` of `at` (a Prometheus sample's scrape time). */
function seenAround(at: number, slackMs: number, pick: (s: ProbeState) => number): number[] {
  return observed.filter((o) => o.at <= at + slackMs && o.received >= at - slackMs).map((o) => pick(o.state))
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'auris-e2e-'))
  const probePort = await freePort()
  probe = start(process.execPath, [cli, 'serve', '--port', String(probePort), '--tick-ms', '100', '--windows', '3', '--degrade-prob', '0.05', '--seed', '42'])
  probeUrl = `http://127.0.0.1:${String(probePort)}`
  await eventually('the probe to serve', async () => ((await fetch(`${probeUrl}/metrics/exp/health`)).ok ? true : undefined))
  sampling = setInterval(() => {
    const at = Date.now()
    fetch(`${probeUrl}/probe/state`)
      .then(async (res) => {
        // The probe answered somewhere between `at` and `received` (far apart on a loaded machine).
        observed.push({ at, received: Date.now(), state: (await res.json()) as ProbeState })
      })
      .catch(() => undefined)
  }, 50)

  const shipped = readFileSync(shippedConfig, 'utf8')
  expect(shipped).toContain("targets: ['127.0.0.1:8010']")
  expect(shipped).toContain('scrape_interval: 15s')
  const rules = fileURLToPath(new URL('../../../packages/prom-exporter/alerts/atlas-stability.rules.yml', import.meta.url))
  expect(shipped).toContain('  - ../../../packages/prom-exporter/alerts/atlas-stability.rules.yml')
  const config = shipped
    .replace('127.0.0.1:8010', `127.0.0.1:${String(probePort)}`)
    .replaceAll('15s', '1s')
    .replace('../../../packages/prom-exporter/alerts/atlas-stability.rules.yml', rules)
  prometheus = await startPrometheus(work, config)
  promUrl = prometheus.url
  await eventually('up{job="auris-probe"} == 1', async () => ((await query('up{job="auris-probe"} == 1')).length === 1 ? true : undefined), 60_000)
}, 120_000)

afterAll(async () => {
  clearInterval(sampling)
  // A generous grace before SIGKILL: on a loaded machine the probe's clean exit may take seconds, and
  // a SIGKILL would fail the exit-code check below for the wrong reason.
  const codes = await Promise.all([prometheus?.stop(), probe?.stop(20_000)])
  rmSync(work, { recursive: true, force: true })
  // The probe stops cleanly on SIGTERM.
  expect(codes[1]).toBe(0)
}, 30_000)

describe('a real Prometheus scraping the probe', () => {
  it('loads every shipped alert rule, healthy', async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } }
    const rules = res.data.groups.flatMap((g) => g.rules)
    expect(rules.map((r) => r.name).sort()).toEqual(alertRules().groups.flatMap((g) => g.rules.map((r) => r.alert)).sort())
    await eventually('every rule evaluated once, healthy', async () => {
      const now = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as typeof res
      const all = now.data.groups.flatMap((g) => g.rules)
      return all.every((r) => r.health === 'ok') ? true : undefined
    })
  })

  it('returns data for the left-hand side of every alert expression', async () => {
    for (const probe of alertProbes()) {
      for (const expr of probe.series) {
        const series = await eventually(`${probe.alert}: ${expr}`, async () => {
          const result = await query(expr)
          return result.length > 0 ? result : undefined
        })
        expect(series.map((s) => s.metric.window_id), `${probe.alert}: ${expr}`).toContain('global')
      }
    }
  })

  it('returns data for every query of every dashboard panel, variables substituted', async () => {
    const dashboardFile = fileURLToPath(new URL('../../../packages/prom-exporter/dashboards/atlas-stability.json', import.meta.url))
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { name: string; query?: unknown }[] } }
    const windowVariable = dashboard.templating.list.find((v) => v.name === 'window')
    expect(windowVariable?.query).toBe('label_values(atlas_stability_score, window_id)')
    // The variable's own query, the way Grafana runs it: the label values of the series.
    const values = (await (await fetch(`${promUrl}/api/v1/label/window_id/values?match[]=atlas_stability_score`)).json()) as { data: string[] }
    expect(values.data).toEqual(['global', 'window-2', 'window-3'])
    const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })))
    expect(targets.length).toBeGreaterThanOrEqual(15)
    for (const { panel, expr } of targets) {
      const substituted = expr.replaceAll('$window', 'global').replaceAll('$__rate_interval', '1m')
      expect(substituted, panel).not.toMatch(/\$/)
      const series = await eventually(`panel "${panel}": ${substituted}`, async () => {
        const result = await query(substituted)
        return result.length > 0 ? result : undefined
      })
      expect(series.length, `panel "${panel}": ${substituted}`).toBeGreaterThan(0)
    }
  })

  it('has the stability SLO row and rule on real data: the score histogram of window "global", heavily degraded, breaches p50 >= 0.8', async () => {
    const dashboardFile = fileURLToPath(new URL('../../../packages/prom-exporter/dashboards/atlas-stability.json', import.meta.url))
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: { title: string; targets?: { expr: string; legendFormat: string }[] }[] }
    const slo = dashboard.panels.filter((p) => p.title.endsWith('(SLO)'))
    expect(slo.map((p) => p.title)).toEqual(['Stability score p50, p95, p99 (SLO)', 'Time at or below 0.8 (SLO)'])
    const value = async (panel: string, expr: string): Promise<number> => {
      const substituted = expr.replaceAll('$window', 'global')
      const series = await eventually(`panel "${panel}": ${substituted}`, async () => {
        const result = await query(substituted)
        return result.length > 0 && Number.isFinite(Number(result[0]?.value[1])) ? result : undefined
      })
      expect(series.map((s) => s.metric.window_id), substituted).toEqual(['global'])
      return Number(series[0]?.value[1])
    }
    const [quantiles, below] = slo as [{ title: string; targets: { expr: string; legendFormat: string }[] }, { title: string; targets: { expr: string }[] }]
    expect(quantiles.targets.map((t) => t.legendFormat)).toEqual(['{{window_id}} p50', '{{window_id}} p95', '{{window_id}} p99'])
    const [p50, p95, p99] = [await value(quantiles.title, quantiles.targets[0]?.expr ?? ''), await value(quantiles.title, quantiles.targets[1]?.expr ?? ''), await value(quantiles.title, quantiles.targets[2]?.expr ?? '')]
    // --degrade-prob 0.05 at every tick: cool-downs back to back, the score is 0 on most ticks.
    expect(p50).toBeLessThan(0.8)
    expect(p50).toBeLessThanOrEqual(p95)
    expect(p95).toBeLessThanOrEqual(p99)
    expect(p99).toBeLessThanOrEqual(1)
    const share = await value(below.title, below.targets[0]?.expr ?? '')
    expect(share).toBeGreaterThan(0.5)
    expect(share).toBeLessThanOrEqual(1)
    // The rule sees the breach: pending (its for is 5m) or firing, for window "global".
    const alert = await eventually(
      'StabilitySloBreached pending or firing for window "global"',
      async () => {
        const res = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string; value: string }[] } }
        return res.data.alerts.find((a) => a.labels.alertname === 'StabilitySloBreached' && a.labels.window_id === 'global')
      },
      60_000,
      500,
    )
    expect(['pending', 'firing']).toContain(alert.state)
    expect(Number(alert.value)).toBeLessThan(0.8)
  }, 120_000)

  it('sees the stability series of the global window equal to the probe state, within a scrape', async () => {
    // Let a few scrapes and state samples accumulate.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const checks: [string, (s: ProbeState) => number][] = [
      ['atlas_stability_score_ema{window_id="global"}', (s) => s.global.stabilityScoreEma],
      ['atlas_recommended_fab_mode{window_id="global"}', (s) => ({ FAB0: 0, FAB1: 1, FAB2: 2 })[s.global.recommendedMode]],
      ['atlas_degradation_count_total{window_id="global"}', (s) => s.global.totalDegradations],
      ['atlas_stable_ticks{window_id="global"}', (s) => s.global.stableTicks],
    ]
    for (const [expr, pick] of checks) {
      const sample = await one(expr)
      const seen = seenAround(sample.at, 1000, pick)
      expect(seen.length, `probe states around the ${expr} scrape`).toBeGreaterThan(0)
      expect(seen, `${expr} = ${String(sample.value)} at ${new Date(sample.at).toISOString()}`).toContain(sample.value)
    }
  })

  it('sees the anti-chatter series equal to the probe state', async () => {
    const mode = { FAB0: 0, FAB1: 1, FAB2: 2 }
    const checks: [string, (s: ProbeState) => number][] = [
      ['atlas_hyst_effective_mode{window_id="global"}', (s) => mode[s.global.hysteresis.effectiveMode]],
      ['atlas_hyst_desired_mode{window_id="global"}', (s) => mode[s.global.hysteresis.desiredMode]],
      ['atlas_hyst_switches_total{window_id="global"}', (s) => s.global.hysteresis.switchCount],
      ['atlas_hyst_dwell_ticks{window_id="global"}', (s) => s.global.hysteresis.dwellCounter],
    ]
    for (const [expr, pick] of checks) {
      const sample = await one(expr)
      expect(seenAround(sample.at, 1000, pick), expr).toContain(sample.value)
    }
    for (const name of ['atlas_hyst_oscillations_total', 'atlas_hyst_switches_per_second', 'atlas_hyst_oscillations_per_second']) {
      expect((await query(`${name}{window_id="global"}`)).length, name).toBe(1)
    }
  })

  it('counts degradations as injected, and rate() is positive while they happen', async () => {
    const rate = await eventually(
      'a positive degradation rate',
      async () => {
        const result = await query('sum(rate(atlas_degradation_count_total[30s]))')
        const value = Number(result[0]?.value[1] ?? 0)
        return value > 0 ? value : undefined
      },
      30_000,
      500,
    )
    expect(rate).toBeGreaterThan(0)
    const counted = await one('atlas_degradation_count_total{window_id="global"}')
    expect(seenAround(counted.at, 1000, (s) => s.injected.global)).toContain(counted.value)
    expect((await query('atlas_degradation_count_total')).map((s) => s.metric.window_id).sort()).toEqual(['global', 'window-2', 'window-3'])
  })
})
