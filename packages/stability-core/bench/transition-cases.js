// @ts-check
/**
 * One case per process: `node bench/transition-cases.js <case> <module>`
 * prints `{ name, p50Ns, avgNs }` as JSON. `<module>` is the entry of the
 * build to measure (this package's dist, or an earlier version built by
 * bench/transitions.js), so the same loop runs against both.
 */
import { pathToFileURL } from 'node:url'
import { bench, run } from 'mitata'

export const TICKS = 1024
const SCORES = 4096
const WINDOWS = 1000

/** Scores drifting slowly in [0.6, 1], as in cases.js; a degradation every 1,024 ticks. */
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
const perWindow = new Uint32Array(WINDOWS)
let cursor = 0
let received = 0
/** @param {unknown} _event */
const listener = (_event) => {
  received++
}

/** @type {Record<string, (m: any) => () => void>} */
export const CASES = {
  tick: (m) => {
    const tracker = new m.StabilityTracker()
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'tick-listener': (m) => {
    const tracker = new m.StabilityTracker()
    tracker.onTransition(listener)
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'tick+hysteresis': (m) => {
    const tracker = new m.StabilityTracker()
    const filter = new m.Hysteresis()
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
        filter.update(tracker.recommendMode(), n)
      }
    }
  },
  'tick+hysteresis-listener': (m) => {
    const tracker = new m.StabilityTracker()
    const filter = new m.Hysteresis()
    tracker.onTransition(listener)
    filter.onTransition(listener)
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
        filter.update(tracker.recommendMode(), n)
      }
    }
  },
  'registry-tick': (m) => {
    const windows = new m.StabilityWindows()
    for (const id of ids) windows.acquire(id)
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        const k = windowOf[n & 0xffff]
        windows.tick(ids[k], scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'registry-tick-listener': (m) => {
    const windows = new m.StabilityWindows()
    for (const id of ids) windows.acquire(id)
    windows.onTransition(listener)
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        const k = windowOf[n & 0xffff]
        windows.tick(ids[k], scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'registry-tick-override': (m) => {
    // One override matching no window: every tick still takes the observed path.
    const windows = new m.StabilityWindows({ overrides: [{ match: 'gpu-*', hysteresis: { downgradeDwellTicks: 1 } }] })
    for (const id of ids) windows.acquire(id)
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        const k = windowOf[n & 0xffff]
        windows.tick(ids[k], scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'tick-histogram': (m) => {
    const tracker = new m.StabilityTracker({ scoreBuckets: m.DEFAULT_SCORE_BUCKETS })
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        tracker.tick(scores[n & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'registry-tick-histogram': (m) => {
    const windows = new m.StabilityWindows({ tracker: { scoreBuckets: m.DEFAULT_SCORE_BUCKETS } })
    for (const id of ids) windows.acquire(id)
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        const k = windowOf[n & 0xffff]
        windows.tick(ids[k], scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'registry-handle-tick-histogram': (m) => {
    const windows = new m.StabilityWindows({ tracker: { scoreBuckets: m.DEFAULT_SCORE_BUCKETS } })
    const handles = ids.map((id) => windows.acquire(id))
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        const k = windowOf[n & 0xffff]
        handles[k].tick(scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
  'registry-handle-tick': (m) => {
    const windows = new m.StabilityWindows()
    const handles = ids.map((id) => windows.acquire(id))
    return () => {
      for (let i = 0; i < TICKS; i++) {
        const n = cursor++
        const k = windowOf[n & 0xffff]
        handles[k].tick(scores[perWindow[k]++ & (SCORES - 1)], (n & 1023) === 1023)
      }
    }
  },
}

const [name, entry] = process.argv.slice(2)
if (name !== undefined && entry !== undefined) {
  const make = CASES[name]
  if (make === undefined) throw new Error(`unknown case ${name}; known: ${Object.keys(CASES).join(', ')}`)
  const m = await import(pathToFileURL(entry).href)
  bench(name, make(m))
  const { benchmarks } = await run({ format: 'quiet' })
  const stats = benchmarks[0]?.runs[0]?.stats
  if (stats === undefined) throw new Error(`case ${name} produced no statistics`)
  console.log(JSON.stringify({ name, p50Ns: stats.p50 / TICKS, avgNs: stats.avg / TICKS, received }))
}
