import cluster, { type Worker } from 'node:cluster'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { StabilityWindows } from '@auris/stability-core'
import { afterEach, describe, expect, it } from 'vitest'
import type { ClusterPrimary} from './cluster.js';
import { createClusterPrimary, clusterWorkerSource, workerSlot } from './cluster.js'
import { createStabilityExporter } from './exporter.js'
import { parseExposition } from './testing/exposition.js'
import { promtool, pythonParse } from './testing/parsers.js'

/**
 * Real processes: this test process is the cluster's primary; the workers
 * (src/testing/cluster-worker.mjs, on the built package) share one port on
 * 127.0.0.1 and serve it with node:http.
 */
const exec = fileURLToPath(new URL('./testing/cluster-worker.mjs', import.meta.url))
let primary: ClusterPrimary | undefined
const alive = new Set<Worker>()

afterEach(async () => {
  primary?.close()
  primary = undefined
  await Promise.all(
    [...alive].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) { resolve(); return; }
          w.once('exit', () => { resolve(); })
          w.process.kill('SIGKILL')
        }),
    ),
  )
  alive.clear()
  cluster.removeAllListeners('exit')
})

/** A GET on a new connection (no keep-alive): whichever worker accepts it answers. */
function scrape(port: number, accept = 'text/plain'): Promise<{ status: number; type: string; worker: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false, headers: { Accept: accept, Connection: 'close' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), worker: String(res.headers['x-worker']), body }); })
    })
    req.on('error', reject)
    req.end()
  })
}

let port = 0
function fork(p: ClusterPrimary, env: Record<string, string>): Promise<Worker> {
  const worker = p.fork(env)
  alive.add(worker)
  return new Promise((resolve, reject) => {
    worker.once('exit', (code) => { reject(new Error(`worker exited (${String(code)}) before listening`)); })
    worker.on('message', (m: { test?: string; port?: number }) => {
      if (m.test !== 'listening') return
      port = m.port as number
      resolve(worker)
    })
  })
}

function injected(worker: Worker, what: 'injected' | 'ticks' = 'injected'): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { test?: string; injected?: number; ticks?: number }): void => {
      if (m.test !== 'injected') return
      worker.off('message', on)
      resolve(m[what] as number)
    }
    worker.on('message', on)
    worker.send({ test: 'injected' })
  })
}

type Series = Map<string, number>
/** Every sample of an exposition, keyed by name and labels. */
function samples(text: string): Series {
  const out: Series = new Map()
  // OpenMetrics: its `# UNIT` lines aside, the test parser reads it (counter families lose `_total`).
  const plain = text.split('\n').filter((l) => !l.startsWith('# UNIT ')).join('\n')
  for (const [name, family] of parseExposition(plain)) {
    for (const s of family.samples) out.set(`${family.type === 'counter' && !name.endsWith('_total') ? `${name}_total` : name}${JSON.stringify(s.labels)}`, s.value)
  }
  return out
}

function setup(): void {
  cluster.setupPrimary({ exec, execArgv: [], silent: false })
}

describe('a real node:cluster scraped on one port', () => {
  it('serves every worker from whichever accepts; counters and histograms never decrease, also across a SIGKILL and a respawn', async () => {
    setup()
    const p = createClusterPrimary({ timeoutMs: 2000 })
    primary = p
    const env = { PERIODS: '0,20,7,3', TICK_MS: '5', BUCKETS: '0.5,0.8' }
    const workers = await Promise.all([0, 1, 2, 3].map(() => fork(p, env)))
    expect(workers.map((w) => p.slotOfWorker(w))).toEqual([0, 1, 2, 3])
    let previous: Series | undefined
    const accepted = new Set<string>()
    let killedAt = -1
    let respawned: Worker | undefined
    for (let i = 0; i < 100; i++) {
      if (i === 40) {
        // SIGKILL worker 2 mid-run and respawn it: the new process takes slot 2.
        const victim = workers[2] as Worker
        const gone = new Promise<void>((resolve) => victim.once('exit', () => { resolve(); }))
        victim.process.kill('SIGKILL')
        await gone
        killedAt = i
        respawned = await fork(p, env)
        expect(p.slotOfWorker(respawned)).toBe(2)
      }
      const res = await scrape(port, i % 2 === 0 ? 'text/plain' : 'application/openmetrics-text; version=1.0.0')
      expect(res.status, res.body).toBe(200)
      accepted.add(res.worker)
      const now = samples(res.body)
      // Every worker slot answered, each window series carries its slot.
      const workersSeen = new Set([...now.keys()].filter((k) => k.startsWith('atlas_stability_score{')).map((k) => (JSON.parse(k.slice(k.indexOf('{'))) as { worker: string }).worker))
      expect([...workersSeen].sort()).toEqual(['0', '1', '2', '3'])
      expect(now.get('atlas_cluster_worker_up{"worker":"2"}')).toBe(1)
      // Every worker's histogram, three buckets each, its +Inf bucket its count.
      for (const slot of ['0', '1', '2', '3']) {
        const count = now.get(`atlas_stability_score_count{"window_id":"global","worker":"${slot}"}`)
        expect(now.get(`atlas_stability_score_bucket{"window_id":"global","worker":"${slot}","le":"+Inf"}`), `slot ${slot}`).toBe(count)
        expect([...now.keys()].filter((k) => k.startsWith(`atlas_stability_score_bucket{"window_id":"global","worker":"${slot}",`)).length).toBe(3)
      }
      if (previous !== undefined) {
        for (const [key, v] of now) {
          const name = key.split('{')[0]!
          if (!name.endsWith('_total') && !/^atlas_stability_score_(bucket|sum|count)$/.test(name)) continue
          const before = previous.get(key)
          if (before !== undefined) expect(v, `${key} at scrape ${String(i)}`).toBeGreaterThanOrEqual(before)
        }
      }
      previous = now
    }
    expect(killedAt).toBe(40)
    // Connections spread over the workers (round-robin): a braid without the merge.
    expect(accepted.size).toBeGreaterThanOrEqual(2)
    const last = previous as Series
    expect(last.get('atlas_cluster_worker_restarts_total{"worker":"2"}')).toBe(1)
    expect(last.get('atlas_cluster_worker_restarts_total{"worker":"0"}')).toBe(0)
    // Worker 0 never degrades; the busiest degrades the most.
    expect(last.get('atlas_degradation_count_total{"window_id":"global","worker":"0"}')).toBe(0)
    const count = (slot: number): number => last.get(`atlas_degradation_count_total{"window_id":"global","worker":"${String(slot)}"}`) as number
    expect(count(3)).toBeGreaterThan(count(1))
    // Slot 3's count equals its process's own injections up to the last scrape (no restart there).
    const truth3 = await injected(workers[3] as Worker)
    expect(count(3)).toBeLessThanOrEqual(truth3)
    expect(truth3 - count(3)).toBeLessThanOrEqual(40)
    // Slot 2 carries the killed process's last exported count: at least what the new process counted.
    expect(count(2)).toBeGreaterThan(await injected(respawned as Worker))
    // Its histogram too: more observations than the new process has ticks (one observation per tick).
    const observed = (slot: number): number => last.get(`atlas_stability_score_count{"window_id":"global","worker":"${String(slot)}"}`) as number
    expect(observed(2)).toBeGreaterThan(await injected(respawned as Worker, 'ticks'))
    // Slot 3 (no restart) counts its process's ticks up to the last scrape.
    const ticks3 = await injected(workers[3] as Worker, 'ticks')
    expect(observed(3)).toBeLessThanOrEqual(ticks3)
    expect(ticks3 - observed(3)).toBeLessThanOrEqual(400)
  }, 120_000)

  it('aggregates per family with exact semantics on known data, and answers without a worker that hangs', async () => {
    setup()
    const p = createClusterPrimary({ mode: 'aggregate', timeoutMs: 300 })
    primary = p
    const periods = [0, 7, 13, 3]
    const env = { PERIODS: periods.join(','), STOP_AT: '200', BUCKETS: '0.5,0.8' }
    const workers = await Promise.all(periods.map(() => fork(p, env)))
    // The same windows, ticked the same way here: the oracle.
    const expected = periods.map((period) => {
      const windows = new StabilityWindows({ tracker: { minStableTicks: 30, scoreBuckets: [0.5, 0.8] } })
      for (let t = 1; t <= 200; t++) {
        const degrade = period > 0 && t % period === 0
        windows.tick('global', degrade ? 0.3 : 0.9, degrade)
        windows.tick('stream', 0.9, false)
      }
      return windows.get('global')!
    })
    const res = await scrape(port)
    expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(promtool(res.body)).toEqual({ status: 0, output: '' })
    const s = samples(res.body)
    const g = '{"window_id":"global"}'
    expect(s.get(`atlas_stability_score_ema${g}`)).toBe(Math.min(...expected.map((w) => w.tracker.stabilityScoreEma())))
    expect(s.get(`atlas_recommended_fab_mode${g}`)).toBe(Math.min(...expected.map((w) => ({ FAB0: 0, FAB1: 1, FAB2: 2 })[w.tracker.recommendMode()])))
    expect(s.get(`atlas_stable_ticks${g}`)).toBe(Math.min(...expected.map((w) => w.tracker.stableTicks)))
    expect(s.get(`atlas_degradation_events_per_hour${g}`)).toBe(Math.max(...expected.map((w) => w.tracker.degradationEventsPerHour())))
    expect(s.get(`atlas_degradation_count_total${g}`)).toBe(28 + 15 + 66)
    expect(s.get(`atlas_hyst_switches_total${g}`)).toBe(expected.reduce((n, w) => n + w.hysteresis!.getMetrics().switchCount, 0))
    expect(s.get('atlas_windows{}')).toBe(2)
    // The histogram: each bucket, the sum and the count summed over the four workers.
    const hists = expected.map((w) => w.tracker.getScoreHistogram()!)
    const summed = (pick: (h: (typeof hists)[number]) => number): number => hists.reduce((n, h) => n + pick(h), 0)
    expect(['0.5', '0.8', '+Inf'].map((le) => s.get(`atlas_stability_score_bucket{"window_id":"global","le":"${le}"}`))).toEqual([0, 1, 2].map((b) => summed((h) => h.counts[b]!)))
    expect(s.get(`atlas_stability_score_count${g}`)).toBe(800)
    expect(s.get(`atlas_stability_score_sum${g}`)).toBe(summed((h) => h.sum))
    expect(s.get('atlas_stability_score_count{"window_id":"stream"}')).toBe(800)
    const om = await scrape(port, 'application/openmetrics-text; version=1.0.0')
    expect(pythonParse([{ text: res.body, format: 'prometheus' }, { text: om.body, format: 'openmetrics' }]).map((v) => v.ok)).toEqual([true, true])

    // Worker 3 blocks its event loop for 4 s. Four scrapes at once on new connections (round-robin: one per
    // worker): those the other workers accept answer within the timeout, with worker 3 missing and counted,
    // and the sum keeps its last count (no decrease).
    const hung = workers[3] as Worker
    hung.send({ test: 'hang', ms: 4000 })
    const during = (await Promise.all([0, 1, 2, 3].map(() => scrape(port)))).filter((r) => r.worker !== '3')
    expect(during.length).toBeGreaterThanOrEqual(1)
    for (const r of during) {
      const m = samples(r.body)
      expect(m.get('atlas_cluster_worker_up{"worker":"3"}')).toBe(0)
      expect(m.get('atlas_cluster_worker_up{"worker":"1"}')).toBe(1)
      // One miss per scrape that waited for it: at most the four.
      const misses = m.get('atlas_cluster_worker_misses_total{"worker":"3","reason":"timeout"}') as number
      expect(misses).toBeGreaterThanOrEqual(1)
      expect(misses).toBeLessThanOrEqual(4)
      expect(m.get(`atlas_degradation_count_total${g}`)).toBe(28 + 15 + 66)
      // Without worker 3 (period 3, the sickest), the worst EMA is another worker's.
      expect(m.get(`atlas_stability_score_ema${g}`)).toBe(Math.min(...expected.slice(0, 3).map((w) => w.tracker.stabilityScoreEma())))
    }
  }, 60_000)

  it('without the merge, the same cluster braids its counters: scrapes on new connections see them go back', async () => {
    setup()
    const p = createClusterPrimary()
    primary = p
    await Promise.all([0, 1, 2, 3].map(() => fork(p, { PERIODS: '0,20,7,3', TICK_MS: '5', BRAID: '1' })))
    // Let the degrading workers count a few events first.
    for (;;) {
      const res = await scrape(port)
      if (res.worker === '1' && (samples(res.body).get('atlas_degradation_count_total{"window_id":"global"}') ?? 0) > 0) break
    }
    const seen: number[] = []
    const from = new Set<string>()
    for (let i = 0; i < 40; i++) {
      const res = await scrape(port)
      from.add(res.worker)
      seen.push(samples(res.body).get('atlas_degradation_count_total{"window_id":"global"}') ?? 0)
    }
    // One series, four counters: each visit to worker 0 (no degradation) after a busier one is a "reset".
    const decreases = seen.filter((v, i) => i > 0 && v < (seen[i - 1] as number)).length
    expect(from.size).toBe(4)
    expect(decreases).toBeGreaterThanOrEqual(5)
  }, 60_000)

  it('runs the README example as written: four workers on one port, every scrape serving all of them', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.includes('createClusterPrimary'))
    expect(block).toBeDefined()
    const dir = mkdtempSync(join(tmpdir(), 'auris-cluster-readme-'))
    const dist = (file: string): string => pathToFileURL(fileURLToPath(new URL(`../dist/${file}`, import.meta.url))).href
    const map: Record<string, string> = {
      '@auris/prom-exporter': dist('index.js'),
      '@auris/prom-exporter/cluster': dist('cluster.js'),
      '@auris/stability-core': pathToFileURL(createRequire(import.meta.url).resolve('@auris/stability-core')).href,
    }
    const probe = createServer()
    const free = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => {
      resolve((probe.address() as { port: number }).port)
    }))
    await new Promise((resolve) => probe.close(resolve))
    const file = join(dir, 'server.mjs')
    writeFileSync(file, (block as string).replace(/from '([^']+)'/g, (m, spec: string) => (spec in map ? `from '${map[spec] as string}'` : m)).replace('8010', String(free)))
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    try {
      let body = ''
      for (let i = 0; i < 200; i++) {
        const res = await scrape(free).catch(() => undefined)
        // Each worker has its window from its first tick on.
        if (res?.status === 200 && [0, 1, 2, 3].every((w) => res.body.includes(`atlas_stability_score{window_id="global",worker="${String(w)}"}`))) {
          body = res.body
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(body, output).toContain('atlas_cluster_worker_up{worker="3"} 1')
      expect([...body.matchAll(/^atlas_stability_score_ema\{window_id="global",worker="(\d)"\}/gm)].map((m) => m[1])).toEqual(['0', '1', '2', '3'])
      expect(promtool(body)).toEqual({ status: 0, output: '' })
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('refuses bad options and the wrong process, naming the option', () => {
    expect(() => createClusterPrimary({ mode: 'sum' as never })).toThrow(new RangeError('createClusterPrimary: option "mode" must be "worker" or "aggregate"; got "sum"'))
    expect(() => createClusterPrimary({ timeoutMs: 0 })).toThrow(new RangeError('createClusterPrimary: option "timeoutMs" must be an integer in [1, 600000] (ms); got 0'))
    expect(() => createClusterPrimary({ timeout: 1 } as never)).toThrow(new RangeError('createClusterPrimary: unknown option "timeout"'))
    expect(() => createClusterPrimary(null as never)).toThrow(new RangeError('createClusterPrimary: options must be an object'))
    const exporter = createStabilityExporter()
    expect(() => clusterWorkerSource(exporter)).toThrow(new RangeError('clusterWorkerSource: call it in a cluster worker (cluster.isWorker), not in the primary or a lone process'))
    expect(() => clusterWorkerSource(exporter, { timeoutMs: 1.5 })).toThrow(new RangeError('clusterWorkerSource: option "timeoutMs" must be an integer in [1, 600000] (ms); got 1.5'))
    expect(() => clusterWorkerSource(exporter, { wait: 1 } as never)).toThrow(new RangeError('clusterWorkerSource: unknown option "wait"'))
    expect(() => clusterWorkerSource(createStabilityExporter({ constLabels: { worker: 'x' } }))).toThrow(
      new RangeError('clusterWorkerSource: the exporter\'s constLabels set "worker", the label the cluster puts on every worker\'s series; rename that constant label'),
    )
    expect(workerSlot({ AURIS_CLUSTER_SLOT: '3' })).toBe(3)
    expect(workerSlot({ AURIS_CLUSTER_SLOT: 'x' })).toBe(null)
    expect(workerSlot({})).toBe(null)
  })

  it('answers at once with no worker, and merges nothing it cannot read', async () => {
    const p = createClusterPrimary()
    primary = p
    const merged = await p.collect()
    expect(merged.size).toBe(0)
    expect(merged.exporterFamilies.map((e) => e.spec.suffix)).toEqual(['windows', 'windows_rejected_total', 'windows_evicted_total', 'cluster_worker_up', 'cluster_worker_misses_total', 'cluster_worker_restarts_total'])
    expect(p.workers).toEqual([])
  })
})
