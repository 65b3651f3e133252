// @ts-check
/**
 * A cluster scrape, ours against prom-client's `AggregatorRegistry`, over
 * the same data in one run (one process, mitata; medians):
 *
 *   node --expose-gc bench/cluster.js [--json] [--histograms]
 *
 * `--histograms`: every tracker also keeps a score histogram with the
 * default bounds (`DEFAULT_SCORE_BUCKETS`: 11 buckets, sum and count per
 * window), carried over IPC and merged; prom-client gets the same three
 * families through the adapter, summed by `AggregatorRegistry`, and, as a
 * second baseline, a native prom-client `Histogram` per worker holding the
 * same bucket counts (named `atlas_stability_score_hist`: a histogram named
 * `atlas_stability_score` would clash with the gauge) beside the adapter's
 * other families.
 *
 * Each shape (W workers × N windows) runs in a process of its own: W workers, each with N windows (a registry with some history, filters
 * included), exported by our exporter and, for prom-client, registered on a
 * prom-client registry with our adapter (the same families and values).
 * One scrape is the work of every process of the cluster, run here in one
 * process one after the other, IPC transport excepted:
 *
 * - ours: each worker's `snapshot()` in the structured form it sends
 *   (`toWorkerSnapshot`), through `v8.serialize`/`deserialize` (what the IPC
 *   channel's `advanced` serialization does), the primary's `ingest` and
 *   `merge`, the merged snapshot through `v8.serialize`/`deserialize` back to
 *   the accepting worker, and its render to text bytes (0.0.4);
 * - prom-client: each worker's `getMetricsAsJSON()`, through
 *   `JSON.stringify`/`parse` (the channel's default `json` serialization,
 *   which `clusterMetrics()` uses), `AggregatorRegistry.aggregate()` and the
 *   aggregated registry's `metrics()`: what `clusterMetrics()` does in the
 *   workers and the primary.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { serialize, deserialize } from 'node:v8'
import { DEFAULT_SCORE_BUCKETS, StabilityWindows } from '@auris/stability-core'
import { WINDOW_FAMILIES, createStabilityExporter } from '@auris/prom-exporter'
import { CLUSTER_EXPORTER_FAMILIES, ClusterMerger, clusterLayout, histogramsFromWire, histogramsToWire, renderCluster, toWorkerSnapshot } from '@auris/prom-exporter/cluster'
import { createStabilityExporter as createOnRegistry } from '@auris/prom-exporter/prom-client'
import { bench, do_not_optimize, run } from 'mitata'
import { AggregatorRegistry, Histogram } from 'prom-client'

const HISTOGRAMS = process.argv.includes('--histograms')

/** Worker `w`'s windows: `n` windows with 50 ticks of history, different per worker. */
function busyWindows(n, w, histograms = HISTOGRAMS) {
  const windows = new StabilityWindows({ maxWindows: n, tracker: { minStableTicks: 30, ...(histograms ? { scoreBuckets: DEFAULT_SCORE_BUCKETS } : {}) } })
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < n; i++) {
      const x = Math.sin((round * 31 + i + w * 7) * 12.9898) * 43758.5453
      windows.tick(`window-${String(i)}`, 0.6 + 0.4 * (x - Math.floor(x)), (round + i + w) % 17 === 0)
    }
  }
  return windows
}

const SHAPES = [
  [1, 1000],
  [2, 1000],
  [4, 1000],
  [1, 2000],
  [2, 2000],
  [4, 2000],
]
const layout = clusterLayout('prometheus')

/** A merged snapshot as it crosses to the rendering worker (its typed arrays and exporter samples). */
const wireOf = (m) => ({
  size: m.size,
  labelBytes: m.labelBytes,
  labelEnds: m.labelEnds,
  present: m.present,
  values: m.values,
  exporter: m.exporterFamilies.map((e) => ({ suffix: e.spec.suffix, samples: e.samples })),
  histograms: m.scoreHistograms === undefined ? undefined : histogramsToWire(m.scoreHistograms, m.size),
})

/** One shape, in this process: every scrape warmed up, then measured by mitata one after the other. */
async function measure(workers, n) {
  const all = Array.from({ length: workers }, (_, w) => busyWindows(n, w))
  const ours = all.map((windows) => {
    const e = createStabilityExporter({ maxWindows: n })
    e.track(windows)
    return e
  })
  const theirs = all.map((windows) => {
    const e = createOnRegistry({ maxWindows: n })
    e.track(windows)
    return e.registry
  })
  // The native baseline: the adapter's families from the same windows without histograms, plus a
  // prom-client Histogram fed so its buckets hold the trackers' counts (each observation at its bucket's bound).
  const native = HISTOGRAMS
    ? all.map((windows, w) => {
        const e = createOnRegistry({ maxWindows: n })
        e.track(busyWindows(n, w, false))
        const h = new Histogram({ name: 'atlas_stability_score_hist', help: 'Stability score per tick.', labelNames: ['window_id'], buckets: [...DEFAULT_SCORE_BUCKETS], registers: [e.registry] })
        for (const id of windows.ids()) {
          const counts = windows.get(id).tracker.getScoreHistogram().counts
          for (let b = 0; b < counts.length; b++) {
            const value = b < DEFAULT_SCORE_BUCKETS.length ? DEFAULT_SCORE_BUCKETS[b] : 2
            for (let k = counts[b] - (b === 0 ? 0 : counts[b - 1]); k > 0; k--) h.observe({ window_id: id }, value)
          }
        }
        return e.registry
      })
    : []
  const scrapeWith = (merger) => () => {
    const parts = ours.map((e, slot) => merger.ingest(slot, slot, deserialize(serialize(toWorkerSnapshot(e.snapshot())))))
    const wire = deserialize(serialize(wireOf(merger.merge(parts))))
    // What the accepting worker renders: the wire's arrays, the families by suffix.
    const exporterFamilies = CLUSTER_EXPORTER_FAMILIES.map((spec) => ({ spec, samples: wire.exporter.find((e) => e.suffix === spec.suffix)?.samples ?? [] }))
    return renderCluster(layout, { ...wire, windowFamilies: WINDOW_FAMILIES, exporterFamilies, scoreHistograms: histogramsFromWire(wire.histograms, wire.size) })
  }
  const oursScrape = scrapeWith(new ClusterMerger('aggregate'))
  const oursByWorker = scrapeWith(new ClusterMerger('worker'))
  const aggregateOf = (registries) => async () => {
    const list = await Promise.all(registries.map(async (r) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON()))))
    return AggregatorRegistry.aggregate(list).metrics()
  }
  const theirsScrape = aggregateOf(theirs)
  const nativeScrape = aggregateOf(native)
  // Same data, same windows: both expositions have one EMA series per window.
  const a = new TextDecoder().decode(oursScrape())
  const b = await theirsScrape()
  const count = (text) => text.split('\n').filter((l) => l.startsWith('atlas_stability_score_ema{')).length
  if (count(a) !== n || count(b) !== n) throw new Error(`expected ${String(n)} EMA series, got ours ${String(count(a))}, prom-client ${String(count(b))}`)
  const buckets = (text) => text.split('\n').filter((l) => l.startsWith('atlas_stability_score_bucket{')).length
  const wanted = HISTOGRAMS ? n * (DEFAULT_SCORE_BUCKETS.length + 1) : 0
  if (buckets(a) !== wanted || buckets(b) !== wanted) throw new Error(`expected ${String(wanted)} bucket series, got ours ${String(buckets(a))}, prom-client ${String(buckets(b))}`)
  if (HISTOGRAMS) {
    const c = await nativeScrape()
    const nativeBuckets = c.split('\n').filter((l) => l.startsWith('atlas_stability_score_hist_bucket{')).length
    if (nativeBuckets !== wanted || count(c) !== n) throw new Error(`native prom-client: expected ${String(wanted)} bucket series, got ${String(nativeBuckets)}`)
    // The same counts: the +Inf buckets of both sum to every worker's ticks.
    const inf = (text, name) => text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes('le="+Inf"')).reduce((x, l) => x + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
    if (inf(c, 'atlas_stability_score_hist_bucket') !== inf(a, 'atlas_stability_score_bucket')) throw new Error('native prom-client: other counts than ours')
  }
  for (let i = 0; i < 20; i++) {
    oursScrape()
    oursByWorker()
    await theirsScrape()
    if (HISTOGRAMS) await nativeScrape()
  }
  globalThis.gc?.()
  bench('ours', () => do_not_optimize(oursScrape()))
  bench('prom-client', async () => do_not_optimize(await theirsScrape()))
  if (HISTOGRAMS) bench('prom-client-native', async () => do_not_optimize(await nativeScrape()))
  bench('ours-worker', () => do_not_optimize(oursByWorker()))
  const { benchmarks } = await run({ format: 'quiet' })
  const out = Object.fromEntries(benchmarks.map((x) => [x.alias, x.runs[0]?.stats?.p50 ?? Number.NaN]))
  // mitata measures one bench after the other: load that drifts in between swings a ratio. The ratio is
  // also taken from samples alternated by hand, ours and prom-client in turn, 40 rounds.
  const samples = { ours: [], theirs: [], worker: [], native: [] }
  for (let i = 0; i < 40; i++) {
    let t = performance.now()
    do_not_optimize(oursScrape())
    samples.ours.push(performance.now() - t)
    t = performance.now()
    do_not_optimize(await theirsScrape())
    samples.theirs.push(performance.now() - t)
    t = performance.now()
    do_not_optimize(oursByWorker())
    samples.worker.push(performance.now() - t)
    if (HISTOGRAMS) {
      t = performance.now()
      do_not_optimize(await nativeScrape())
      samples.native.push(performance.now() - t)
    }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] * 1e6
  return { ...out, 'alt-ours': median(samples.ours), 'alt-prom-client': median(samples.theirs), 'alt-ours-worker': median(samples.worker), ...(HISTOGRAMS ? { 'alt-prom-client-native': median(samples.native) } : {}) }
}

const at = process.argv.indexOf('--shape')
if (at >= 0) {
  console.log(JSON.stringify(await measure(Number(process.argv[at + 1]), Number(process.argv[at + 2]))))
  process.exit(0)
}
const p50 = {}
for (const [workers, n] of SHAPES) {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--shape', String(workers), String(n), ...(HISTOGRAMS ? ['--histograms'] : [])], { encoding: 'utf8' })
  for (const [name, v] of Object.entries(JSON.parse(out.trim().split('\n').pop() ?? '{}'))) p50[`${name} ${String(workers)}x${String(n)}`] = v
  process.stderr.write(`  ${String(workers)} x ${String(n)} done\n`)
}
const ms = (name) => (p50[name] / 1e6).toFixed(2)
const lines = [
  `Node ${process.version}, ${process.platform}/${process.arch}. Command: \`node --expose-gc bench/cluster.js${HISTOGRAMS ? ' --histograms' : ''}\` (in packages/prom-exporter). Medians; each shape in its own process (ours, then prom-client, then ours in worker mode, each warmed up first), all shapes in one run; absolute times drift with the machine's load, ratios from one run are the figures to read.`,
  '',
  '| workers × windows | ours, aggregate mode | prom-client `AggregatorRegistry` | speed-up (mitata) | speed-up (alternated) | ours per worker × window (alternated) | ours, worker mode (a `worker` label, W× the series) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
]
for (const [workers, n] of SHAPES) {
  const key = `${workers}x${n}`
  lines.push(
    `| ${workers} × ${n.toLocaleString('en-US')} | ${ms(`ours ${key}`)} ms | ${ms(`prom-client ${key}`)} ms | ${(p50[`prom-client ${key}`] / p50[`ours ${key}`]).toFixed(1)}× | ${(p50[`alt-prom-client ${key}`] / p50[`alt-ours ${key}`]).toFixed(1)}× | ${(p50[`alt-ours ${key}`] / (workers * n)).toFixed(0)} ns | ${ms(`ours-worker ${key}`)} ms |`,
  )
}
if (HISTOGRAMS) {
  lines.push('', '| workers × windows | prom-client with a native `Histogram` | speed-up over it (mitata) | speed-up over it (alternated) |', '| --- | ---: | ---: | ---: |')
  for (const [workers, n] of SHAPES) {
    const key = `${workers}x${n}`
    lines.push(`| ${workers} × ${n.toLocaleString('en-US')} | ${ms(`prom-client-native ${key}`)} ms | ${(p50[`prom-client-native ${key}`] / p50[`ours ${key}`]).toFixed(1)}× | ${(p50[`alt-prom-client-native ${key}`] / p50[`alt-ours ${key}`]).toFixed(1)}× |`)
  }
}
if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, p50Ns: p50 }, null, 2))
else console.log(lines.join('\n'))
