// @ts-check
/**
 * The error of `degradationEventsPerHour` against the exact count, at 0.1,
 * 10 and 1,000 events/s over 2 h of a simulated clock (Poisson arrivals,
 * seeded). The figure is read every 10 s; the exact count of events in the
 * trailing hour comes from the sorted event times; every read checks the
 * bound (error within the events of the oldest bucket). Not a timing: the
 * figures are the same on any machine.
 *
 *   node bench/events-per-hour.js [--json]
 */
import { StabilityTracker, HOUR_MS } from '@auris/stability-core'

let seed = 0x1234_5678
const random = () => {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0
  return ((seed ^ (seed >>> 13)) >>> 0) / 2 ** 32
}

const DURATION_MS = 2 * HOUR_MS
const READ_EVERY_MS = 10_000

/** @param {number} rate events per second */
function measure(rate) {
  let now = 0
  const tracker = new StabilityTracker({ clock: () => now })
  const times = new Float64Array(Math.ceil(rate * (DURATION_MS / 1000) * 1.2) + 16)
  let n = 0
  let head = 0
  let next = -Math.log(1 - random()) * (1000 / rate)
  let maxError = 0
  let sumError = 0
  let reads = 0
  let maxRelative = 0
  for (let read = READ_EVERY_MS; read <= DURATION_MS; read += READ_EVERY_MS) {
    while (next <= read) {
      now = next
      tracker.tick(0.5, true)
      times[n++] = now
      next += -Math.log(1 - random()) * (1000 / rate)
    }
    now = read
    const figure = tracker.degradationEventsPerHour()
    while (head < n && (times[head] ?? 0) < now - HOUR_MS) head++
    const exact = n - head
    const error = figure - exact
    if (error < 0) throw new Error(`undercount at ${String(now)}: ${String(figure)} < ${String(exact)}`)
    // The bound: at most the events of the oldest bucket read (the one holding now - 1 h).
    const bucketStart = (Math.floor(now / 60_000) - 60) * 60_000
    let bucket = 0
    for (let i = lowerBound(times, n, bucketStart); i < n && (times[i] ?? 0) < bucketStart + 60_000; i++) bucket++
    if (error > bucket) throw new Error(`bound broken at ${String(now)}: error ${String(error)} > ${String(bucket)}`)
    maxError = Math.max(maxError, error)
    sumError += error
    reads++
    if (now >= HOUR_MS && exact > 0) maxRelative = Math.max(maxRelative, error / exact)
  }
  return { rate, events: n, reads, maxError, meanError: sumError / reads, maxRelativeAfterFirstHour: maxRelative, oneBucket: rate * 60 }
}

/** First index in the sorted `times[0..n)` at or after `t`. */
function lowerBound(/** @type {Float64Array} */ times, /** @type {number} */ n, /** @type {number} */ t) {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((times[mid] ?? 0) < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

const results = [0.1, 10, 1000].map(measure)
if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2))
else {
  console.log('| events/s | events in 2 h | reads | max error (events) | mean error | max error / exact (2nd hour) | one bucket (rate × 60 s) |')
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    console.log(
      `| ${String(r.rate)} | ${r.events.toLocaleString('en')} | ${String(r.reads)} | ${r.maxError.toLocaleString('en')} | ${r.meanError.toFixed(1)} | ${(r.maxRelativeAfterFirstHour * 100).toFixed(2)} % | ${r.oneBucket.toLocaleString('en')} |`,
    )
  }
}
