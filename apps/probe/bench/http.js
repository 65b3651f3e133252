// @ts-check
/**
 * `pnpm bench` (HTTP part): GET /metrics/exp on the probe server (Hono +
 * @hono/node-server + the exporter) against a bare node:http server serving
 * the same exposition, each with 1 and 1,000 windows, under
 * `wrk -t2 -c32 -d10s` (Debian package `wrk`). Also times one scrape's
 * render in this process, for the p99 goal.
 *
 *   node bench/http.js [--duration 10s] [--json]
 */
import { execFileSync, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows } from '@auris/stability-core'

const duration = process.argv.includes('--duration') ? process.argv[process.argv.indexOf('--duration') + 1] : '10s'
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const bare = fileURLToPath(new URL('./bare-server.js', import.meta.url))

try {
  execFileSync('wrk', ['--version'], { stdio: 'ignore' })
} catch (error) {
  // wrk prints its version and exits 1; only a missing binary lands here.
  if (/** @type {{ code?: string }} */ (error).code === 'ENOENT') {
    console.error('bench/http.js needs wrk: apt-get install wrk')
    process.exit(1)
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const address = /** @type {import('node:net').AddressInfo} */ (s.address())
      s.close(() => resolve(address.port))
    })
  })
}

async function waitFor(url) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} never answered`)
}

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text)
  if (m === null) return Number.NaN
  const v = Number(m[1])
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v
}

function wrk(url) {
  const out = execFileSync('wrk', ['-t2', '-c32', `-d${duration}`, '--latency', url], { encoding: 'utf8' })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '')
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '')
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0'
  return { rps, p50, p99, non2xx: Number(errors) }
}

async function server(kind, windows) {
  const port = await freePort()
  const serve = [cli, 'serve', '--port', String(port), '--windows', String(windows), '--tick-ms', '10']
  const child =
    kind === 'bare'
      ? spawn(process.execPath, [bare, String(port), String(windows)], { stdio: 'ignore' })
      : spawn(process.execPath, kind === 'ours' ? serve : [...serve, '--max-age-ms', '1000'], { stdio: 'ignore' })
  const url = `http://127.0.0.1:${String(port)}/metrics/exp`
  await waitFor(url)
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve)
        child.kill('SIGTERM')
      }),
  }
}

/** Median render time of one scrape (exporter.metrics()) with `n` busy windows, in ms. */
async function renderMs(n) {
  const windows = new StabilityWindows({ maxWindows: n })
  for (let r = 0; r < 50; r++) for (let i = 0; i < n; i++) windows.tick(`w${String(i)}`, 0.5 + ((r + i) % 50) / 100, (r + i) % 17 === 0)
  const exporter = createStabilityExporter({ maxWindows: n })
  exporter.track(windows)
  for (let i = 0; i < 50; i++) await exporter.metrics()
  const times = []
  for (let i = 0; i < 101; i++) {
    const t0 = performance.now()
    await exporter.metrics()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return times[50]
}

const LABELS = {
  ours: 'ours: `probe serve` (Hono + @hono/node-server + metricsRoutes + exporter)',
  bare: 'bare node:http + the same simulation and exporter',
  'ours-cached': 'ours with `maxAgeMs: 1000` (concurrent scrapes share a render)',
}
const rows = []
for (const windows of [1, 1000]) {
  const render = await renderMs(windows)
  for (const kind of ['ours', 'bare', 'ours-cached']) {
    const s = await server(kind, windows)
    const r = wrk(s.url)
    await s.stop()
    rows.push({ windows, kind, render, ...r })
    process.stderr.write(`  ${kind} ${String(windows)} window(s): ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms\n`)
  }
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ node: process.version, duration, rows }, null, 2))
} else {
  const get = (w, k) => rows.find((r) => r.windows === w && r.kind === k)
  const lines = [
    `Node ${process.version}; \`wrk -t2 -c32 -d${duration} --latency\` on 127.0.0.1, client and server on the same 2 cores. Command: \`pnpm bench\` (apps/probe: \`node bench/http.js\`).`,
    '',
    '| server | windows | req/s | p50 (ms) | p99 (ms) | non-2xx |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${LABELS[r.kind]} | ${String(r.windows)} | ${r.rps.toFixed(0)} | ${String(r.p50)} | ${String(r.p99)} | ${String(r.non2xx)} |`),
    '',
    `Render time of one scrape (exporter.metrics(), median): ${get(1, 'ours').render.toFixed(3)} ms with 1 window, ${get(1000, 'ours').render.toFixed(2)} ms with 1,000.`,
    `Ours / bare, req/s: ${(get(1, 'ours').rps / get(1, 'bare').rps).toFixed(2)} (1 window), ${(get(1000, 'ours').rps / get(1000, 'bare').rps).toFixed(2)} (1,000 windows).`,
  ]
  console.log(lines.join('\n'))
}
