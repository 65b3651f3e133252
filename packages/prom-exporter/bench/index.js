// @ts-check
/**
 * `pnpm bench` for @auris/prom-exporter: every case of cases.js in a fresh
 * process, one after the other, then a Markdown table. Medians of mitata's
 * samples; prom-client used directly is the in-run baseline.
 *
 *   node bench/index.js [--json]
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CASES } from './cases.js'

const script = fileURLToPath(new URL('./cases.js', import.meta.url))
const figures = {}
for (const name of Object.keys(CASES)) {
  const out = execFileSync(process.execPath, ['--expose-gc', script, name], { encoding: 'utf8', maxBuffer: 1 << 26 })
  figures[name] = JSON.parse(out.trim().split('\n').pop() ?? '{}')
  process.stderr.write(`  ${name}: ${(figures[name].p50Ns / 1e3).toFixed(2)} µs${figures[name].ratio === undefined ? '' : ` (floor ratio ${figures[name].ratio.toFixed(2)})`}\n`)
}
const ns = (name) => figures[name]?.p50Ns ?? Number.NaN
const ms = (name) => (ns(name) / 1e6).toFixed(2)
const ratio = (a, b) => (ns(a) / ns(b)).toFixed(2)
const table = [
  `Node ${process.version}, ${process.platform}/${process.arch}. Command: \`pnpm bench\` (in packages/prom-exporter: \`node bench/index.js\`). Medians; every case in its own process, all in one run. Absolute times drift between runs and machines; ratios from one run are the figures to read.`,
  '',
  '| figure | prom-client direct | ours | goal |',
  '| --- | ---: | ---: | ---: |',
  `| per-tick cost of keeping metrics current, 6 × \`labels().set\` | ${ns('tick-prom-client-labels-set').toFixed(0)} ns | – | – |`,
  `| per-tick cost, cached children | ${ns('tick-prom-client-cached-child').toFixed(0)} ns | – | – |`,
  `| per-tick cost, pull mode (tracker tick included) | – | ${ns('tick-ours-pull').toFixed(1)} ns | ≤ 25 ns |`,
  `| per-tick cost, push mode (\`update()\` every tick, tracker tick included) | – | ${ns('tick-ours-push').toFixed(1)} ns | – |`,
  `| scrape (\`metrics()\`: read sources + render), 1,000 windows (prom-client: 14 families; ours: all ${String(20)}) | ${ms('render-prom-client-1000')} ms | ${ms('render-ours-1000')} ms | ≤ 4 ms |`,
  `| scrape, 10,000 windows | ${ms('render-prom-client-10000')} ms | ${ms('render-ours-10000')} ms | ≤ 40 ms |`,
  '',
  'Renderer against the floor loop (same snapshot, same process, samples alternated; the floor copies the same line-start, label and line-end bytes and formats the same numbers into one preallocated buffer, with no headers, chunks or checks):',
  '',
  '| windows | format | labels | renderer | floor | ratio | goal |',
  '| ---: | --- | --- | ---: | ---: | ---: | ---: |',
]
for (const n of ['1000', '10000']) {
  for (const format of ['prometheus', 'openmetrics']) {
    for (const labels of ['plain', 'const']) {
      const p = figures[`pair-${format}-${labels}-${n}`] ?? {}
      table.push(`| ${Number(n).toLocaleString('en-US')} | ${format} | ${labels === 'const' ? '2 constant labels' : 'none'} | ${(p.p50Ns / 1e6).toFixed(2)} ms | ${(p.floorP50Ns / 1e6).toFixed(2)} ms | ${p.ratio?.toFixed(2)}× | ≤ 1.3× |`)
    }
  }
}
table.push(
  '',
  `Constant labels: the same path as none (no fallback); each line is longer by the labels' bytes, so the renderer is compared with a floor that writes the same longer lines.`,
  `A whole sliced scrape in OpenMetrics (\`expose('openmetrics')\`: read the sources, render, in slices): ${ms('scrape-ours-openmetrics-1000')} ms at 1,000 windows, ${ms('scrape-ours-openmetrics-10000')} ms at 10,000.`,
  '',
  '| prom-client adapter | `registry.metrics()` with our families | prom-client gauges holding the same values | speed-up | goal |',
  '| --- | ---: | ---: | ---: | ---: |',
  `| 1,000 windows | ${ms('adapter-registry-1000')} ms | ${ms('gauges-holding-1000')} ms | ${ratio('gauges-holding-1000', 'adapter-registry-1000')}× | ≥ 4× |`,
  `| 10,000 windows | ${ms('adapter-registry-10000')} ms | ${ms('gauges-holding-10000')} ms | ${ratio('gauges-holding-10000', 'adapter-registry-10000')}× | ≥ 4× |`,
)
if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, figures }, null, 2))
else console.log(table.join('\n'))
