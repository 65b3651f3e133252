import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_SCORE_BUCKETS } from '@auris/stability-core'
import { eventually, start, type Child } from '@auris/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProbeState } from './serve.js'

/**
 * `probe serve --workers 4`, real processes: the CLI's primary forks four
 * workers sharing one port on 127.0.0.1; every scrape goes over a new
 * connection, so it lands on whichever worker accepts it.
 */
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const rules = fileURLToPath(new URL('../../../packages/prom-exporter/alerts/atlas-stability.rules.yml', import.meta.url))
let probe: Child | undefined
let dir = ''

afterEach(async () => {
  await probe?.stop(10_000)
  probe = undefined
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  dir = ''
})

/** A GET on a new connection (no keep-alive). */
function get(port: number, path: string, accept = 'text/plain'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { Accept: accept, Connection: 'close' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** The samples of a text exposition, `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

async function startCluster(...args: string[]): Promise<number> {
  return startWorkers(4, ...args)
}

async function startWorkers(workers: number, ...args: string[]): Promise<number> {
  probe = start(process.execPath, [cli, 'serve', '--port', '0', '--workers', String(workers), ...args])
  const child = probe
  const serving = new RegExp(`serving http://127\\.0\\.0\\.1:(\\d+)/metrics/exp from a cluster of ${String(workers)}`)
  const url = await eventually('the cluster to serve', () => Promise.resolve(serving.exec(child.output())?.[1]), 30_000, 50)
  return Number(url)
}

const PYTHON = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
out = []
for item in json.load(sys.stdin):
    try:
        list((om if item['format'] == 'openmetrics' else text)(item['text']))
        out.append('ok')
    except Exception as e:
        out.append(type(e).__name__ + ': ' + str(e))
print(json.dumps(out))
`

/** Python prometheus_client's verdict on each exposition ('ok' or the error), Debian's python3-prometheus-client. */
function pythonParse(items: readonly { text: string; format: 'prometheus' | 'openmetrics' }[]): string[] {
  const run = spawnSync('/usr/bin/python3', ['-c', PYTHON], { input: JSON.stringify(items), encoding: 'utf8', maxBuffer: 1 << 26 })
  if (run.error !== undefined || run.status !== 0) throw new Error(`python3 prometheus_client could not run (${run.error?.message ?? run.stderr}); install the Debian package "python3-prometheus-client"`)
  return JSON.parse(run.stdout) as string[]
}

describe('probe serve --workers 4', () => {
  it('serves all four workers from one port; counters never decrease across a SIGKILL and a respawn; StabilityLow fires for the sick worker', async () => {
    // Only worker 3 degrades (every 4 ticks): its EMA falls to 0, the others stay near 1.
    const port = await startCluster('--tick-ms', '5', '--windows', '2', '--degrade-every', '0,0,0,4')
    const scrapes: Map<string, number>[] = []
    let victim = 0
    for (let i = 0; i < 100; i++) {
      if (i === 50) {
        // SIGKILL worker 2: find its pid on new connections (each lands on some worker).
        const state = await eventually('worker 2 answering /probe/state', async () => {
          const s = JSON.parse((await get(port, '/probe/state')).body) as ProbeState
          return s.worker?.slot === 2 ? s : undefined
        }, 10_000, 10)
        victim = (state.worker as { pid: number }).pid
        process.kill(victim, 'SIGKILL')
        await eventually('the respawn', () => Promise.resolve(probe?.output().includes(`(pid ${String(victim)}) exited (SIGKILL); respawned as pid`) === true ? true : undefined), 20_000, 20)
      }
      const res = await get(port, '/metrics/exp', i % 3 === 0 ? 'application/openmetrics-text; version=1.0.0' : 'text/plain')
      expect(res.status, res.body).toBe(200)
      scrapes.push(samples(res.body))
    }
    expect(probe?.output()).toContain('auris-probe: worker 2 (pid')
    let missing2 = 0
    for (const [i, now] of scrapes.entries()) {
      const workers = [...now.keys()].filter((k) => k.startsWith('atlas_stability_score_ema{window_id="global"')).map((k) => /worker="(\d+)"/.exec(k)?.[1])
      // Between the SIGKILL and the respawned worker's first answer, slot 2 is missing, and says so.
      const up2 = now.get('atlas_cluster_worker_up{worker="2"}')
      expect(workers.sort(), `scrape ${String(i)}`).toEqual(up2 === 1 ? ['0', '1', '2', '3'] : ['0', '1', '3'])
      if (up2 !== 1) missing2++
      if (i === 0) continue
      const before = scrapes[i - 1] as Map<string, number>
      for (const [key, value] of now) {
        // OpenMetrics and the text format name counter samples alike (`_total`); the histogram's series are counts too.
        const name = key.split('{')[0] ?? ''
        if (!name.endsWith('_total') && !/^atlas_stability_score_(bucket|sum|count)$/.test(name)) continue
        const was = before.get(key)
        if (was !== undefined) expect(value, `${key} at scrape ${String(i)}`).toBeGreaterThanOrEqual(was)
      }
    }
    // The respawned worker answers within a few scrapes.
    expect(missing2).toBeLessThanOrEqual(10)
    const last = scrapes[99] as Map<string, number>
    expect(last.get('atlas_cluster_worker_restarts_total{worker="2"}')).toBe(1)
    expect(last.get('atlas_cluster_worker_restarts_total{worker="3"}')).toBe(0)
    expect(last.get('atlas_degradation_count_total{window_id="global",worker="0"}')).toBe(0)
    expect(last.get('atlas_degradation_count_total{window_id="window-2",worker="3"}')).toBe(last.get('atlas_degradation_count_total{window_id="global",worker="3"}'))
    expect(last.get('atlas_stability_score_ema{window_id="global",worker="3"}')).toBeLessThan(0.5)
    // Every worker's score histogram is there, the respawned slot's included (+Inf equals the count).
    for (const worker of ['0', '1', '2', '3']) {
      const les = [...last.keys()].filter((k) => k.startsWith(`atlas_stability_score_bucket{window_id="global",worker="${worker}",le=`)).map((k) => /le="([^"]+)"/.exec(k)?.[1])
      expect(les, worker).toEqual([...DEFAULT_SCORE_BUCKETS.map(String), '+Inf'])
      expect(last.get(`atlas_stability_score_bucket{window_id="global",worker="${worker}",le="+Inf"}`), worker).toBe(last.get(`atlas_stability_score_count{window_id="global",worker="${worker}"}`))
    }

    // promtool test rules with the shipped rules, on the EMA series as scraped, one scrape per 30 s
    // evaluation step (the last value held): StabilityLow fires for window "global", and the series
    // under the threshold is worker 3's.
    dir = mkdtempSync(join(tmpdir(), 'auris-cluster-rules-'))
    const series = [...last.keys()].filter((k) => k.startsWith('atlas_stability_score_ema{'))
    const values = (key: string): string => {
      const seen = scrapes.slice(-8).map((s) => s.get(key) as number)
      return `${seen.join(' ')} ${String(seen[seen.length - 1])}x12`
    }
    const sick = 'atlas_stability_score_ema{window_id="global",worker="3"}'
    const tests = {
      rule_files: [rules],
      evaluation_interval: '30s',
      tests: [
        {
          interval: '30s',
          input_series: series.map((s) => ({ series: s, values: values(s) })),
          promql_expr_test: [
            { expr: 'count by (window_id) (ALERTS{alertname="StabilityLow",alertstate="firing"})', eval_time: '6m', exp_samples: [{ labels: '{window_id="global"}', value: 1 }, { labels: '{window_id="window-2"}', value: 1 }] },
            { expr: 'atlas_stability_score_ema{window_id="global"} < 0.5', eval_time: '6m', exp_samples: [{ labels: sick, value: last.get(sick) }] },
          ],
        },
      ],
    }
    writeFileSync(join(dir, 'tests.yml'), JSON.stringify(tests))
    const r = spawnSync('promtool', ['test', 'rules', join(dir, 'tests.yml')], { encoding: 'utf8' })
    if (r.error !== undefined) throw new Error(`promtool could not run (${r.error.message}); install the Debian package "prometheus"`)
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS')
    expect(r.status).toBe(0)

    // SIGTERM stops every worker, and the primary exits 0.
    const code = await probe?.stop(15_000)
    expect(code).toBe(0)
    expect(probe?.output()).toContain('auris-probe: SIGTERM, stopping the workers\nauris-probe: stopped\n')
    const ps = spawnSync('pgrep', ['-f', `${cli} serve --port 0 --workers 4`], { encoding: 'utf8' })
    expect(ps.stdout).toBe('')
  }, 120_000)

  it('aggregates per window in aggregate mode: the worst worker, the summed counters, no worker label', async () => {
    const port = await startCluster('--tick-ms', '5', '--degrade-every', '0,0,0,4', '--cluster-mode', 'aggregate')
    // The sick worker's EMA falls below 0.5 within a second or two; only the worst-of shows it (the mean of
    // the four would stay above 0.75, a sum above 3).
    const text = await eventually('the worst worker\'s EMA below 0.5', async () => {
      const body = (await get(port, '/metrics/exp')).body
      return (samples(body).get('atlas_stability_score_ema{window_id="global"}') ?? 1) < 0.5 ? body : undefined
    })
    const s = samples(text)
    expect([...s.keys()].filter((k) => k.startsWith('atlas_stability_score_ema'))).toEqual(['atlas_stability_score_ema{window_id="global"}'])
    expect(s.get('atlas_stability_score_ema{window_id="global"}')).toBeLessThan(0.5)
    expect(s.get('atlas_degradation_count_total{window_id="global"}')).toBeGreaterThanOrEqual(1)
    expect(s.get('atlas_windows')).toBe(1)
    expect(s.get('atlas_cluster_worker_up{worker="3"}')).toBe(1)
    // One histogram for the window, summed over the workers, no worker label.
    expect([...s.keys()].filter((k) => k.startsWith('atlas_stability_score_bucket{')).map((k) => /\{(.*)\}/.exec(k)?.[1])).toEqual([...DEFAULT_SCORE_BUCKETS.map(String), '+Inf'].map((le) => `window_id="global",le="${le}"`))
    expect(s.get('atlas_stability_score_bucket{window_id="global",le="+Inf"}')).toBe(s.get('atlas_stability_score_count{window_id="global"}'))
  }, 60_000)
})

describe('probe serve --workers 2', () => {
  it('exposes both workers\' score histograms (the series the SLO rule and dashboard read); promtool and Python accept both formats', async () => {
    const port = await startWorkers(2, '--tick-ms', '5', '--windows', '1')
    // Both workers have ticked: each has its histogram, with the default bounds and +Inf.
    const text = await eventually('both workers\' histograms', async () => {
      const body = (await get(port, '/metrics/exp')).body
      const s = samples(body)
      return ['0', '1'].every((w) => (s.get(`atlas_stability_score_count{window_id="global",worker="${w}"}`) ?? 0) >= 1) ? body : undefined
    }, 20_000, 20)
    const s = samples(text)
    for (const worker of ['0', '1']) {
      const les = [...s.keys()].filter((k) => k.startsWith(`atlas_stability_score_bucket{window_id="global",worker="${worker}",le=`)).map((k) => /le="([^"]+)"/.exec(k)?.[1])
      expect(les, worker).toEqual([...DEFAULT_SCORE_BUCKETS.map(String), '+Inf'])
      expect(s.get(`atlas_stability_score_bucket{window_id="global",worker="${worker}",le="+Inf"}`)).toBe(s.get(`atlas_stability_score_count{window_id="global",worker="${worker}"}`))
    }
    expect([...s.keys()].filter((k) => k.startsWith('atlas_stability_score_sum{')).length).toBe(2)
    const om = (await get(port, '/metrics/exp', 'application/openmetrics-text; version=1.0.0')).body
    expect(om).toContain('# TYPE atlas_stability_score_bucket unknown\n')
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    if (check.error !== undefined) throw new Error(`promtool could not run (${check.error.message}); install the Debian package "prometheus"`)
    expect({ status: check.status, output: `${check.stdout}${check.stderr}` }).toEqual({ status: 0, output: '' })
    expect(pythonParse([{ text, format: 'prometheus' }, { text: om, format: 'openmetrics' }])).toEqual(['ok', 'ok'])
  }, 60_000)
})
