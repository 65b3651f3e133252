// @ts-check
/**
 * One benchmark case per process: `node --expose-gc bench/cases.js <case>`
 * prints `{ name, avgNs, p50Ns, heapBytes }` as JSON (per tick). Each case
 * runs its own loop, so one case's type feedback cannot slow another's.
 * Every loop first updates the simulated core's fields (as the core itself
 * would each cycle), then ticks; the baseline ticks the tracker directly.
 */
import { attach, maybeTick } from '@auris/fab-hook'
import { StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { bench, do_not_optimize, run } from 'mitata'

/** Ticks per measured call; per-tick figures divide by this. */
export const TICKS = 1024
const SCORES = 4096
const ON = { AURIS_STABILITY_HOOK: 'on', AURIS_METRICS_EXP: 'on' }

const scores = new Float64Array(SCORES)
let seed = 0x2f6b_1d3a
const random = () => {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0
  return ((seed ^ (seed >>> 13)) >>> 0) / 2 ** 32
}
for (let i = 0, s = 0.8; i < SCORES; i++) {
  s = Math.min(1, Math.max(0.6, s + (random() - 0.5) * 0.02))
  scores[i] = s
}
let cursor = 0

/** A TypeScript FAB core: the fields the hook reads, updated every cycle. */
function makeCore() {
  return { coherenceScore: 0.8, degraded: false, mode: 'FAB2', prevMode: 'FAB2', currentTick: 0 }
}

/** @type {Record<string, { setup: () => () => void }>} */
export const CASES = {
  'tracker-tick': {
    setup: () => {
      const core = makeCore()
      const tracker = new StabilityTracker()
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          core.coherenceScore = scores[n & (SCORES - 1)]
          core.degraded = (n & 1023) === 1023
          tracker.tick(core.coherenceScore, core.degraded)
        }
      }
    },
  },
  'attach-tick': {
    setup: () => {
      const core = makeCore()
      const hook = attach(core, { env: ON })
      if (hook === null) throw new Error('hook off')
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          core.coherenceScore = scores[n & (SCORES - 1)]
          core.degraded = (n & 1023) === 1023
          hook.tick()
        }
      }
    },
  },
  'attach-tick-window': {
    setup: () => {
      const core = makeCore()
      const windows = new StabilityWindows()
      const hook = attach(core, { env: ON, windows, windowId: 'global' })
      if (hook === null) throw new Error('hook off')
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          core.coherenceScore = scores[n & (SCORES - 1)]
          core.degraded = (n & 1023) === 1023
          hook.tick()
        }
      }
    },
  },
  'maybeTick-env': {
    setup: () => {
      const core = makeCore()
      const tracker = new StabilityTracker()
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          core.coherenceScore = scores[n & (SCORES - 1)]
          core.degraded = (n & 1023) === 1023
          core.currentTick = n
          do_not_optimize(maybeTick(core, tracker))
        }
      }
    },
  },
}

const name = process.argv[2]
if (name !== undefined) {
  const c = CASES[name]
  if (c === undefined) throw new Error(`unknown case ${name}; known: ${Object.keys(CASES).join(', ')}`)
  bench(name, c.setup())
  const { benchmarks } = await run({ format: 'quiet' })
  const stats = benchmarks[0]?.runs[0]?.stats
  if (stats === undefined) throw new Error(`case ${name} produced no statistics`)
  console.log(JSON.stringify({ name, avgNs: stats.avg / TICKS, p50Ns: stats.p50 / TICKS, heapBytes: stats.heap === undefined ? null : stats.heap.avg / TICKS }))
}
