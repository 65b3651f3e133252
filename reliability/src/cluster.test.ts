import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventually, freePort, start } from '@auris/test-support'
import { describe, expect, it } from 'vitest'
import { record } from './figures.js'

/**
 * `probe serve --workers 4` scraped by a real Prometheus (Debian's 2.42)
 * every second for two minutes, one worker SIGKILLed and respawned half-way:
 * Prometheus sees no counter reset (the score histogram's series included), and `rate()` matches the degradations
 * the workers really made. Without the cluster merge the same setup is a
 * braid of four counters (the connection's worker answers alone).
 */
const cli = fileURLToPath(new URL('../../apps/probe/dist/cli.js', import.meta.url))
/** Ticks between degradations, per worker slot (0: never), at a 10 ms tick. */
const EVERY = [0, 50, 20, 10]
const RUN_MS = 120_000

interface State {
  ticks: number
  uptimeMs: number
  injected: { total: number }
  worker?: { slot: number; pid: number }
}

/** `/probe/state` on a new connection: the state of whichever worker accepts it. */
function state(port: number): Promise<State> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/probe/state', agent: false, headers: { Connection: 'close' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => {
        resolve(JSON.parse(body) as State)
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** The latest state of each worker slot, polling new connections until every slot answered after `since`. */
async function states(port: number, since: number): Promise<Map<number, State & { at: number }>> {
  const seen = new Map<number, State & { at: number }>()
  await eventually(
    'every worker answering /probe/state',
    async () => {
      const s = await state(port)
      if (s.worker !== undefined) seen.set(s.worker.slot, { ...s, at: Date.now() })
      return seen.size === EVERY.length && [...seen.values()].every((x) => x.at >= since) ? true : undefined
    },
    30_000,
    5,
  )
  return seen
}

describe('a cluster of probe workers under a real Prometheus', () => {
  it('shows no counter or histogram reset across a worker SIGKILL and respawn, and rate() within 10 % of the true rate', async () => {
    const port = await freePort()
    const probe = start(process.execPath, [cli, 'serve', '--port', String(port), '--workers', String(EVERY.length), '--tick-ms', '10', '--degrade-every', EVERY.join(',')])
    const dir = mkdtempSync(join(tmpdir(), 'auris-cluster-'))
    const promPort = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, scrape_timeout: 1s }\nscrape_configs:\n  - job_name: cluster\n    metrics_path: /metrics/exp\n    static_configs: [{ targets: ['127.0.0.1:${String(port)}'] }]\n`,
    )
    const prometheus = start('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${String(promPort)}`, '--log.level=warn'])
    const url = `http://127.0.0.1:${String(promPort)}`
    const query = async (expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const body = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string }
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? body.status}`)
      return body.data.result
    }
    try {
      await eventually('the cluster to serve', () => Promise.resolve(probe.output().includes('from a cluster of 4') ? true : undefined), 30_000, 50)
      await eventually('Prometheus scraping the cluster', async () => ((await query('up{job="cluster"} == 1')).length === 1 ? true : undefined), 60_000)
      const begun = Date.now()
      await new Promise((resolve) => setTimeout(resolve, RUN_MS / 2))
      // SIGKILL the busiest worker and let the primary respawn it into its slot.
      const before = await states(port, Date.now())
      const victim = (before.get(3) as State & { worker: { pid: number } }).worker.pid
      process.kill(victim, 'SIGKILL')
      await eventually('the respawn', () => Promise.resolve(probe.output().includes(`(pid ${String(victim)}) exited (SIGKILL); respawned`) ? true : undefined), 20_000, 20)
      await new Promise((resolve) => setTimeout(resolve, begun + RUN_MS - Date.now()))

      // The truth: each worker's own injections over its own clock (the respawned one's since its start).
      const windowS = 60
      const end = await states(port, Date.now())
      const truth = [...end.values()].reduce((sum, s) => sum + s.injected.total / (s.uptimeMs / 1000), 0)
      const expected = EVERY.reduce((sum, every) => sum + (every === 0 ? 0 : 100 / every), 0)
      const rate = Number((await query(`sum(rate(atlas_degradation_count_total[${String(windowS)}s]))`))[0]?.value[1])
      // Every counter series of the run, the cluster's own included: resets() per series (a function drops
      // the name, so several names at once would clash: one query per name).
      const names = ((await (await fetch(`${url}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data.filter((n) => n.startsWith('atlas_') && n.endsWith('_total'))
      const resets: { metric: Record<string, string>; value: [number, string] }[] = []
      let counters = 0
      for (const name of names) {
        const all = await query(`resets(${name}{job="cluster"}[3m])`)
        counters += all.length
        resets.push(...all.filter((r) => r.value[1] !== '0').map((r) => ({ ...r, metric: { ...r.metric, name } })))
      }
      // The score histogram's series (buckets, sum, count) are counts too: no reset either.
      let histogramSeries = 0
      for (const name of ['atlas_stability_score_bucket', 'atlas_stability_score_sum', 'atlas_stability_score_count']) {
        const all = await query(`resets(${name}{job="cluster"}[3m])`)
        histogramSeries += all.length
        resets.push(...all.filter((r) => r.value[1] !== '0').map((r) => ({ ...r, metric: { ...r.metric, name } })))
      }
      // What the SLO rule reads (its median over the cluster) has data.
      const median = (await query('histogram_quantile(0.5, sum by (window_id, le) (rate(atlas_stability_score_bucket{run_id=""}[60s])))')).map((r) => Number(r.value[1]))
      const restarts = Number((await query('atlas_cluster_worker_restarts_total{worker="3"}'))[0]?.value[1])
      const missing = Number((await query('sum(increase(atlas_cluster_worker_misses_total[3m]))'))[0]?.value[1])
      const scrapes = Number((await query('count_over_time(up{job="cluster"}[3m])'))[0]?.value[1])
      const workers = (await query('atlas_degradation_count_total')).map((s) => s.metric.worker).sort()
      record('cluster', {
        workers: EVERY.length,
        degradeEvery: EVERY,
        scrapes,
        counterSeries: counters,
        histogramSeries,
        medianScore: median[0],
        resets: resets.length,
        rate: Math.round(rate * 1000) / 1000,
        trueRate: Math.round(truth * 1000) / 1000,
        scheduledRate: expected,
        ratio: Math.round((rate / truth) * 1000) / 1000,
        restartsOfWorker3: restarts,
        missedAnswers: missing,
      })
      expect(resets).toEqual([])
      // 4 workers × (3 window counters + 2 filter counters + 4 exporter counters) + the cluster's 4 × (3 + 1).
      expect(counters).toBe(52)
      // 4 workers × (11 buckets of the default bounds + sum + count).
      expect(histogramSeries).toBe(52)
      expect(median.length).toBe(1)
      expect(median[0]).toBeGreaterThanOrEqual(0)
      expect(median[0]).toBeLessThanOrEqual(1)
      expect(workers).toEqual(['0', '1', '2', '3'])
      expect(restarts).toBe(1)
      expect(Math.abs(rate / truth - 1)).toBeLessThanOrEqual(0.1)
      expect(await probe.stop(20_000)).toBe(0)
    } finally {
      await prometheus.stop()
      await probe.stop(5000)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
