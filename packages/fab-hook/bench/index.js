// @ts-check
/**
 * `pnpm bench` for @auris/fab-hook: runs every case of cases.js in a fresh
 * process and prints a Markdown table. The tracker's own tick runs in the
 * same invocation, so the ratio stays meaningful when absolute times drift
 * on a loaded machine.
 *
 *   node bench/index.js [--json]
 */
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { CASES } from './cases.js'

const script = fileURLToPath(new URL('./cases.js', import.meta.url))
/** @type {Record<string, { avgNs: number, p50Ns: number, heapBytes: number | null }>} */
const figures = {}
const load = loadavg()[0]
for (const name of Object.keys(CASES)) {
  const out = execFileSync(process.execPath, ['--expose-gc', script, name], { encoding: 'utf8' })
  figures[name] = JSON.parse(out.trim().split('\n').pop() ?? '{}')
  process.stderr.write(`  ${name}: ${figures[name].p50Ns.toFixed(2)} ns\n`)
}

const ns = (name) => figures[name]?.p50Ns ?? Number.NaN
const rows = [
  ['`tracker.tick()` (the core updated, then the tracker ticked directly)', 'tracker-tick', '–'],
  ['`attach().tick()`: the hook reads the core and ticks its tracker', 'attach-tick', '≤ 3 × tracker.tick()'],
  ['`attach({ windows }).tick()`: the same, into a registry window', 'attach-tick-window', '–'],
  ['for scale: `maybeTick()` (reads `process.env` per call, returns metrics)', 'maybeTick-env', '–'],
]
const table = [
  `Node ${process.version}, ${process.platform}/${process.arch}, 1-min load average at start ${load.toFixed(2)}. Command: \`node bench/index.js\` in packages/fab-hook.`,
  '',
  '| figure | median (ns) | mean (ns) | heap per tick (bytes) | goal |',
  '| --- | ---: | ---: | ---: | --- |',
  ...rows.map(([label, name, goal]) => {
    const f = figures[name]
    const heap = f?.heapBytes
    return `| ${label} | ${ns(name).toFixed(2)} | ${(f?.avgNs ?? Number.NaN).toFixed(2)} | ${heap == null ? 'n/a' : heap.toFixed(1)} | ${goal} |`
  }),
  '',
  `Ratios to \`tracker.tick()\` (medians, same run): \`attach().tick()\` **${(ns('attach-tick') / ns('tracker-tick')).toFixed(2)}×** (goal ≤ 3), registry window ${(ns('attach-tick-window') / ns('tracker-tick')).toFixed(2)}×, \`maybeTick()\` ${(ns('maybeTick-env') / ns('tracker-tick')).toFixed(2)}×.`,
]
if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, load, figures }, null, 2))
else console.log(table.join('\n'))
