import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { alertRules } from '@auris/prom-exporter'
import { createPusher, listGroups } from '@auris/prom-exporter/push'
import { eventually } from '@auris/test-support'
import { startPrometheus, type Prometheus } from '@auris/test-support/prometheus'
import { startPushgateway, type Pushgateway } from '@auris/test-support/pushgateway'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Batch runs of the probe pushed to a real Pushgateway (Debian
 * `prometheus-pushgateway`) that a real Prometheus (Debian `prometheus`)
 * scrapes every second with `honor_labels: true`, evaluating the shipped
 * rules generated with a 20 s `pushMaxAge` and a threshold of 0 (every
 * degradation visible). Everything on free ports of 127.0.0.1, stopped in
 * afterAll.
 */

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const MAX_AGE_S = 20
let gw: Pushgateway | undefined
let prometheus: Prometheus | undefined
let work = ''
let promUrl = ''

interface Alert {
  labels: Record<string, string>
  state: string
  value: string
}

async function firing(name: string): Promise<{ run: string; window: string; value: number }[]> {
  const body = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } }
  return body.data.alerts
    .filter((a) => a.labels.alertname === name && a.state === 'firing')
    .map((a) => ({ run: a.labels.run_id ?? '', window: a.labels.window_id ?? '', value: Number(a.value) }))
    .sort((a, b) => a.run.localeCompare(b.run))
}

interface RunResult {
  runId: string
  ema: number
  degradations: number
  pushedAt: number
}

/** One batch run of the probe with --push; its run id from the line it prints. */
async function probeRun(runId: string, schedule: string, ttl = '0'): Promise<RunResult> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, '--schedule', schedule, '--json', '--no-snapshot', '--push', gw?.url ?? '', '--push-job', 'e2e', '--push-run-id', runId, '--push-ttl-s', ttl])
  const result = JSON.parse(stdout) as { ok: boolean; final: { stabilityScoreEma: number; totalDegradations: number } }
  expect(result.ok).toBe(true)
  expect(stderr).toMatch(new RegExp(`^Pushed to ${gw?.url ?? ''}/metrics/job/e2e/run_id/${runId} \\(run_id ${runId}\\); \\d+ group\\(s\\) older than ${ttl} s deleted\\n$`))
  return { runId, ema: result.final.stabilityScoreEma, degradations: result.final.totalDegradations, pushedAt: Date.now() }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'auris-push-e2e-'))
  gw = await startPushgateway()
  // JSON is YAML: Prometheus reads both files as written.
  writeFileSync(join(work, 'rules.yml'), JSON.stringify(alertRules({ pushedDegradationsAbove: 0, pushMaxAge: `${String(MAX_AGE_S)}s`, interval: '1s' })))
  prometheus = await startPrometheus(
    work,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(work, 'rules.yml')],
      scrape_configs: [{ job_name: 'pushgateway', honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${String(gw.port)}`] }] }],
    }),
  )
  promUrl = prometheus.url
}, 90_000)

afterAll(async () => {
  await Promise.all([prometheus?.stop(), gw?.stop()])
  rmSync(work, { recursive: true, force: true })
}, 30_000)

describe('three batch runs pushed to a Pushgateway that Prometheus scrapes', () => {
  it("alert once per run with that run's degradations; a deleted group and groups past pushMaxAge stop alerting; --push-ttl-s clears them", async () => {
    // Three runs into one job: 2, 0 and 5 degradations; the last ends in FAB0 territory (EMA < 0.5).
    const a = await probeRun('a', '10,20')
    const b = await probeRun('b', 'none')
    const c = await probeRun('c', '60,70,80,90,100')
    expect([a.degradations, b.degradations, c.degradations]).toEqual([2, 0, 5])
    expect(c.ema).toBeLessThan(0.5)
    expect(Math.min(a.ema, b.ema)).toBeGreaterThan(0.5)
    // Each run is a group of its own: nothing overwrote another run's counters.
    expect((await listGroups({ url: gw?.url ?? '' })).map((g) => g.labels.run_id).sort()).toEqual(['a', 'b', 'c'])

    // The rule sees each run's own total, not an increase() of nothing.
    const degradations = await eventually('PushedRunDegradations for runs a and c', async () => {
      const now = await firing('PushedRunDegradations')
      return now.length === 2 ? now : undefined
    })
    expect(degradations).toEqual([
      { run: 'a', window: 'global', value: 2 },
      { run: 'c', window: 'global', value: 5 },
    ])
    expect(await firing('PushedStabilityLow')).toEqual([{ run: 'c', window: 'global', value: c.ema }])
    expect(Date.now() - a.pushedAt, 'the alerts were seen before pushMaxAge ran out').toBeLessThan(MAX_AGE_S * 1000)

    // Run a's group deleted: its alert goes once the series went stale.
    await createPusher({ url: gw?.url ?? '', job: 'e2e', runId: 'a' }).delete()
    await eventually('run a no longer alerting', async () => {
      const now = await firing('PushedRunDegradations')
      return now.length === 1 ? now : undefined
    })
    expect(await firing('PushedRunDegradations')).toEqual([{ run: 'c', window: 'global', value: 5 }])

    // Past pushMaxAge nothing fires, though the gateway still serves runs b and c.
    await eventually(
      'no push alert after pushMaxAge',
      async () => ((await firing('PushedRunDegradations')).length + (await firing('PushedStabilityLow')).length === 0 ? true : undefined),
      (MAX_AGE_S + 20) * 1000,
      500,
    )
    expect(Date.now() - c.pushedAt).toBeGreaterThanOrEqual(MAX_AGE_S * 1000)
    expect((await listGroups({ url: gw?.url ?? '' })).map((g) => g.labels.run_id).sort()).toEqual(['b', 'c'])

    // A fourth run with --push-ttl-s 1 deletes the job's older groups after pushing its own.
    await probeRun('d', 'none', '1')
    // The gateway applies a DELETE after answering 202: give it a moment to drop b and c.
    let left: (string | undefined)[] = []
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      left = (await listGroups({ url: gw?.url ?? '' })).map((g) => g.labels.run_id)
      if (left.length === 1) break
    }
    expect(left).toEqual(['d'])
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(await firing('PushedRunDegradations')).toEqual([])
    expect(await firing('PushedStabilityLow')).toEqual([])
  }, 120_000)
})
