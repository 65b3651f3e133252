// @ts-check
/**
 * Practical limits of a scrape, measured over real HTTP on 127.0.0.1: for
 * 1k, 10k and 100k windows, the series and bytes of one exposition, its
 * gzip size, the time of a whole scrape (read the sources, render in
 * slices, send), the server's event-loop longest delay during the scrape,
 * and the tick rate of a FAB loop running meanwhile (100 Hz: a 10 ms
 * interval ticking the windows of a small registry) against its rate
 * without scrapes. The scraper is another process (as Prometheus is), so
 * only the server's work is on the measured event loop.
 *
 *   node bench/limits.js [--json] [--histogram]
 *
 * `--histogram` gives every window the default score histogram
 * (`DEFAULT_SCORE_BUCKETS`: 13 more series per window).
 *
 * The server sends `exporter.expose()`'s chunks as they come, as
 * `@auris/metrics-http` does. Not a mitata case: what is measured is the
 * latency seen by other work during a scrape, not a throughput.
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { gzipSync } from 'node:zlib'
import { DEFAULT_SCORE_BUCKETS, StabilityWindows } from '@auris/stability-core'
import { createStabilityExporter } from '@auris/prom-exporter'

const SIZES = [1000, 10000, 100000]
const SCRAPES = 5
const HISTOGRAM = process.argv.includes('--histogram')
const TICK_MS = 10

/** One scrape by another process: the body's bytes (base64 would cost it more than us; it only writes them to stdout). */
const SCRAPER = `const r = await fetch(process.argv[1]); process.stdout.write(Buffer.from(await r.arrayBuffer()))`

function scrape(url) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', SCRAPER, url], { encoding: 'buffer', maxBuffer: 1 << 30 }, (error, stdout) => (error ? reject(error) : resolve(new Uint8Array(stdout))))
  })
}

function busyWindows(n) {
  const tracker = HISTOGRAM ? { minStableTicks: 30, scoreBuckets: DEFAULT_SCORE_BUCKETS } : { minStableTicks: 30 }
  const windows = new StabilityWindows({ maxWindows: n, tracker, idleTtlMs: Infinity })
  for (let round = 0; round < 20; round++) for (let i = 0; i < n; i++) windows.tick(`window-${String(i)}`, (i + round) % 9 === 0 ? 0.3 : 0.9, (i + round) % 31 === 0)
  return windows
}

async function measure(n) {
  const exporter = createStabilityExporter({ maxWindows: n })
  exporter.track(busyWindows(n))
  const server = createServer((req, res) => {
    void (async () => {
      res.writeHead(200, { 'Content-Type': exporter.contentType })
      for await (const chunk of exporter.expose()) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
      res.end()
    })()
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)))
  const address = server.address()
  const url = `http://127.0.0.1:${String(typeof address === 'object' && address !== null ? address.port : 0)}/`

  // The FAB loop: a small registry ticked every millisecond.
  const loop = new StabilityWindows({ maxWindows: 16 })
  let ticks = 0
  const timer = setInterval(() => {
    for (let i = 0; i < 16; i++) loop.tick(`fab-${String(i)}`, 0.9)
    ticks++
  }, TICK_MS)
  await new Promise((r) => setTimeout(r, 500))
  const idleStart = ticks
  await new Promise((r) => setTimeout(r, 1000))
  const idleRate = ticks - idleStart

  const times = []
  let maxDelayMs = 0
  let bytes = 0
  let body = new Uint8Array(0)
  let scrapeTicks = 0
  let scrapeMs = 0
  for (let s = 0; s < SCRAPES; s++) {
    const delay = monitorEventLoopDelay({ resolution: 1 })
    const t0 = ticks
    const started = performance.now()
    delay.enable()
    const buf = await scrape(url)
    delay.disable()
    const took = performance.now() - started
    times.push(took)
    scrapeTicks += ticks - t0
    scrapeMs += took
    maxDelayMs = Math.max(maxDelayMs, delay.max / 1e6)
    bytes = buf.length
    body = buf
  }
  clearInterval(timer)
  server.close()
  const text = new TextDecoder().decode(body)
  let series = 0
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) series++
  times.sort((a, b) => a - b)
  return {
    windows: n,
    series,
    bytes,
    gzipBytes: gzipSync(body).length,
    scrapeMsMedian: times[Math.floor(times.length / 2)],
    eventLoopMaxDelayMs: maxDelayMs,
    ticksPerSecondIdle: idleRate,
    ticksPerSecondDuringScrapes: (scrapeTicks / scrapeMs) * 1000,
    ticksPerSecondIdleExact: idleRate,
    retainedBytesAfter: exporter.retainedBytes,
  }
}

const rows = []
for (const n of SIZES) {
  rows.push(await measure(n))
  process.stderr.write(`  ${String(n)} windows done\n`)
}
if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, rows }, null, 2))
else {
  const fmt = (x) => x.toLocaleString('en-US')
  console.log(`Node ${process.version}, ${process.platform}/${process.arch}; ${String(SCRAPES)} scrapes per size over HTTP on 127.0.0.1. Command: \`node bench/limits.js${HISTOGRAM ? ' --histogram' : ''}\` in packages/prom-exporter.`)
  console.log('')
  console.log('| windows | series | bytes | gzip bytes | scrape (median) | event-loop max delay | FAB loop ticks/s during scrapes (idle) | buffer kept after |')
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    console.log(
      `| ${fmt(r.windows)} | ${fmt(r.series)} | ${fmt(r.bytes)} | ${fmt(r.gzipBytes)} | ${r.scrapeMsMedian.toFixed(1)} ms | ${r.eventLoopMaxDelayMs.toFixed(1)} ms | ${r.ticksPerSecondDuringScrapes.toFixed(0)} (${String(r.ticksPerSecondIdle)}) | ${fmt(r.retainedBytesAfter)} |`,
    )
  }
}
