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
  process.stderr.write(`  ${name}: ${(figures[name].p50Ns / 1e3).toFixed(2)} µs\n`)
}
const ns = (name) => figures[name]?.p50Ns ?? Number.NaN
const ms = (name) => (ns(name) / 1e6).toFixed(2)
const table = [
  `Node ${process.version}, ${process.platform}/${process.arch}. Command: \`pnpm bench\` (in packages/prom-exporter: \`node bench/index.js\`). Medians.`,
  '',
  '| figure | prom-client direct | ours | goal |',
  '| --- | ---: | ---: | ---: |',
  `| per-tick cost of keeping metrics current, 6 × \`labels().set\` | ${ns('tick-prom-client-labels-set').toFixed(0)} ns | – | – |`,
  `| per-tick cost, cached children | ${ns('tick-prom-client-cached-child').toFixed(0)} ns | – | – |`,
  `| per-tick cost, pull mode (tracker tick included) | – | ${ns('tick-ours-pull').toFixed(1)} ns | ≤ 25 ns |`,
  `| per-tick cost, push mode (\`update()\` every tick, tracker tick included) | – | ${ns('tick-ours-push').toFixed(1)} ns | – |`,
  `| scrape render, 1,000 windows (14 families; ours: all ${String(20)}) | ${ms('render-prom-client-1000')} ms | ${ms('render-ours-1000')} ms | ≤ 4 ms |`,
  `| scrape render, 10,000 windows | ${ms('render-prom-client-10000')} ms | ${ms('render-ours-10000')} ms | ≤ 40 ms |`,
  '',
  `Scaling 1,000 → 10,000 windows: prom-client ×${(ns('render-prom-client-10000') / ns('render-prom-client-1000')).toFixed(1)}, ours ×${(ns('render-ours-10000') / ns('render-ours-1000')).toFixed(1)} (linear is ×10).`,
  `Ours renders in one synchronous pass, so a scrape blocks the event loop for the render time and no longer (p99 of a 10,000-window render: ${(figures['render-ours-10000']?.p99Ns / 1e6).toFixed(2)} ms).`,
]
if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, figures }, null, 2))
else console.log(table.join('\n'))
