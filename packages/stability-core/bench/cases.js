// @ts-check
/**
 * One benchmark case per process: `node --expose-gc bench/cases.js <case>`
 * prints `{ name, perCallNs, p50Ns, heapBytes }` as JSON. Run alone, a case
 * gets type feedback from its own code only, so one case's shapes cannot
 * deoptimise another's (bench/index.js runs them all).
 */
import { Hysteresis, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { bench, do_not_optimize, run } from 'mitata'
import { ReferencePortTracker } from './reference-port.js'

/** Ticks per measured call; per-tick figures divide by this. */
export const TICKS = 1024
const SCORES = 4096
const WINDOWS = 1000

/** Scores drifting slowly in [0.6, 1] (steps far below the 0.1 drop threshold). */
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
const windowOf = new Uint16Array(1 << 16)
for (let i = 0; i < windowOf.length; i++) windowOf[i] = Math.floor(random() * WINDOWS)
const ids = Array.from({ length: WINDOWS }, (_, i) => `w${String(i)}`)
let cursor = 0
/** Samples seen per window, so each window's own scores drift slowly (a window sampled 1,000 ticks apart would otherwise see big jumps, i.e. degradations). */
const perWindow = new Uint32Array(WINDOWS)

/**
 * Each case has its own loop: a shared driver taking a callback would make
 * the call site megamorphic and measure the harness. Per-tick cases run
 * TICKS ticks per call, a degradation on every 1024th.
 * @type {Record<string, { perTick: boolean, setup: () => () => void }>}
 */
export const CASES = {
  'baseline-tick': {
    perTick: true,
    setup: () => {
      const port = new ReferencePortTracker()
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          port.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
        }
      }
    },
  },
  tick: {
    perTick: true,
    setup: () => {
      const tracker = new StabilityTracker()
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
        }
      }
    },
  },
  'tick+hysteresis': {
    perTick: true,
    setup: () => {
      const tracker = new StabilityTracker()
      const filter = new Hysteresis()
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
          filter.update(tracker.recommendMode(), n)
        }
      }
    },
  },
  'registry-tick': {
    perTick: true,
    setup: () => {
      const windows = new StabilityWindows()
      for (const id of ids) windows.acquire(id)
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          const k = windowOf[n & 0xffff]
          windows.tick(ids[k], scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
        }
      }
    },
  },
  'registry-tick-no-filters': {
    perTick: true,
    setup: () => {
      const windows = new StabilityWindows({ hysteresis: false })
      for (const id of ids) windows.acquire(id)
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          const k = windowOf[n & 0xffff]
          windows.tick(ids[k], scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
        }
      }
    },
  },
  'registry-handle-tick': {
    perTick: true,
    setup: () => {
      const windows = new StabilityWindows()
      const handles = ids.map((id) => windows.acquire(id))
      return () => {
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          const k = windowOf[n & 0xffff]
          handles[k].tick(scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
        }
      }
    },
  },
  'map-lookup': {
    perTick: true,
    setup: () => {
      const map = new Map(ids.map((id, i) => [id, i]))
      return () => {
        let sum = 0
        for (let i = 0; i < TICKS; i++) {
          const n = cursor++
          sum += map.get(ids[windowOf[n & 0xffff]]) ?? 0
        }
        do_not_optimize(sum)
      }
    },
  },
  'clock-read': {
    perTick: false,
    setup: () => () => do_not_optimize(performance.now()),
  },
  'baseline-getMetrics': {
    perTick: false,
    setup: () => {
      const port = new ReferencePortTracker()
      for (let i = 0; i < 500; i++) port.tick(0.9, i % 100 === 0)
      return () => do_not_optimize(port.getMetrics())
    },
  },
  getMetrics: {
    perTick: false,
    setup: () => {
      const tracker = new StabilityTracker()
      for (let i = 0; i < 500; i++) tracker.tick(0.9)
      return () => do_not_optimize(tracker.getMetrics())
    },
  },
  'getMetrics-events': {
    perTick: false,
    setup: () => {
      const tracker = new StabilityTracker()
      for (let i = 0; i < 500; i++) tracker.tick(0.9, i % 100 === 0)
      return () => do_not_optimize(tracker.getMetrics())
    },
  },
  'getMetrics-events-now': {
    perTick: false,
    setup: () => {
      const tracker = new StabilityTracker()
      for (let i = 0; i < 500; i++) tracker.tick(0.9, i % 100 === 0)
      const now = performance.now()
      return () => do_not_optimize(tracker.getMetrics(now))
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
  const div = c.perTick ? TICKS : 1
  console.log(
    JSON.stringify({ name, avgNs: stats.avg / div, p50Ns: stats.p50 / div, heapBytes: stats.heap === undefined ? null : stats.heap.avg / div }),
  )
}
