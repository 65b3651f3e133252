// @ts-check
/**
 * `pnpm bench` for @auris/stability-core: runs every case of cases.js, each
 * in a fresh process, one after the other, and prints a Markdown table with
 * the goals. Figures are medians of mitata's samples; the baseline (a
 * line-by-line port of the reference) runs in the same invocation, so the
 * ratio stays meaningful when absolute times drift.
 *
 *   node bench/index.js [--json]
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CASES } from './cases.js'

const script = fileURLToPath(new URL('./cases.js', import.meta.url))
/** @type {Record<string, { avgNs: number, p50Ns: number, heapBytes: number | null }>} */
const figures = {}
for (const name of Object.keys(CASES)) {
  const out = execFileSync(process.execPath, ['--expose-gc', script, name], { encoding: 'utf8' })
  figures[name] = JSON.parse(out.trim().split('\n').pop() ?? '{}')
  process.stderr.write(`  ${name}: ${figures[name].p50Ns.toFixed(2)} ns\n`)
}

const ns = (name) => figures[name]?.p50Ns ?? Number.NaN
const rows = [
  ['`tracker.tick()` (drifting scores, a degradation every 1,024 ticks)', 'tick', '≤ 10'],
  ['`tracker.tick()` + `hysteresis.update()`', 'tick+hysteresis', '≤ 20'],
  ['a tick in a 1,000-window registry, random window (with filters: the default)', 'registry-tick', '≤ 50'],
  ['a tick in a 1,000-window registry, random window (no filters)', 'registry-tick-no-filters', '≤ 50'],
  ['a tick through a window handle (`acquire(id).tick()`), random window of 1,000', 'registry-handle-tick', '≤ 50'],
  ['for scale: `Map.get` of a random id among the 1,000', 'map-lookup', '–'],
  ['`getMetrics()`, no event in the last hour', 'getMetrics', '≤ 50'],
  ['`getMetrics()`, events in the last hour (reads the clock)', 'getMetrics-events', '≤ 50'],
  ['`getMetrics(now)`, events in the last hour (caller passes the time)', 'getMetrics-events-now', '≤ 50'],
  ['for scale: one `performance.now()` (the default clock)', 'clock-read', '–'],
  ['baseline: line-by-line port, `tick()`', 'baseline-tick', '–'],
  ['baseline: line-by-line port, `getMetrics()` (filters its event list)', 'baseline-getMetrics', '–'],
]
const table = [
  `Node ${process.version}, ${process.platform}/${process.arch}. Command: \`pnpm bench\` (in packages/stability-core: \`node bench/index.js\`).`,
  '',
  '| figure | median (ns) | mean (ns) | goal (ns) | heap per call (bytes) |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map(([label, name, goal]) => {
    const f = figures[name]
    const heap = f?.heapBytes
    return `| ${label} | ${ns(name).toFixed(2)} | ${(f?.avgNs ?? Number.NaN).toFixed(2)} | ${goal} | ${heap == null ? 'n/a' : heap.toFixed(1)} |`
  }),
  '',
  `Ratio ours / baseline for \`tick()\` (medians, same run): **${(ns('tick') / ns('baseline-tick')).toFixed(2)}** (goal ≤ 0.7).`,
]
if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, figures }, null, 2))
else console.log(table.join('\n'))
