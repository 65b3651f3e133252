import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EVENT_BUCKETS, EventWindow } from './event-window.js'

const HOUR = 3_600_000
const MINUTE = 60_000

/**
 * The exact count, on the window's documented time rule: a reading below the
 * latest one (or not finite) is taken as the latest, and later readings are
 * shifted by the step back.
 */
class Oracle {
  private shift = 0
  private latest = -Infinity
  readonly times: number[] = []

  constructor(readonly windowMs: number) {}

  adjust(t: number): number {
    let e = t + this.shift
    if (!(Number.isFinite(e) && e >= this.latest)) {
      if (this.latest === -Infinity) e = Number.isFinite(t) ? t : 0
      else {
        if (Number.isFinite(t)) this.shift += this.latest - e
        e = this.latest
      }
    }
    this.latest = e
    return e
  }

  record(t: number, n: number): void {
    const e = this.adjust(t)
    for (let i = 0; i < n; i++) this.times.push(e)
  }

  /** [exact count, events of the oldest bucket read] at `now`. */
  read(now: number): [number, number] {
    const e = this.adjust(now)
    const bucketMs = this.windowMs / EVENT_BUCKETS
    const oldest = Math.floor(e / bucketMs) - EVENT_BUCKETS
    let exact = 0
    let bucket = 0
    for (const t of this.times) {
      if (t >= e - this.windowMs) exact++
      if (Math.floor(t / bucketMs) === oldest) bucket++
    }
    return [exact, bucket]
  }
}

describe('EventWindow', () => {
  it('allocates nothing until the first event', () => {
    const w = new EventWindow(HOUR)
    expect(w.empty).toBe(true)
    expect(w.count(5)).toBe(0)
    w.record(1)
    expect(w.empty).toBe(false)
    expect(w.bucketMs).toBe(MINUTE)
  })

  it('counts whole buckets: an event exactly windowMs old counts, its bucket expires one bucket later', () => {
    const w = new EventWindow(HOUR)
    w.record(0)
    w.record(30_000, 3)
    expect(w.count(HOUR)).toBe(4)
    // Exact: 3 (the event at 0 is older than the hour); the oldest bucket (0..60 s) is still counted whole.
    expect(w.count(HOUR + 1)).toBe(4)
    expect(w.count(HOUR + MINUTE - 1)).toBe(4)
    expect(w.count(HOUR + MINUTE)).toBe(0)
    expect(w.empty).toBe(true)
  })

  it('treats a step back as a pause and a step forward as elapsed time', () => {
    const w = new EventWindow(HOUR)
    w.record(10 * MINUTE)
    // The clock steps back 5 minutes: the reading counts as 10 min, and later readings are shifted by 5 min.
    w.record(5 * MINUTE)
    w.record(Number.NaN)
    expect(w.count(5 * MINUTE + HOUR)).toBe(3)
    expect(w.count(6 * MINUTE + HOUR)).toBe(0)
    w.record(0)
    // A jump forward of more than the window empties it.
    expect(w.count(10 * HOUR)).toBe(0)
  })

  it('holds one event a millisecond for two hours at 1,000 events/s within one bucket of the exact count', () => {
    const w = new EventWindow(HOUR)
    for (let t = 0; t < 2 * HOUR; t++) w.record(t)
    // Exact over [t - 1 h, t] with t = 2 h - 1 ms: 3,600,001 events; the oldest bucket adds at most 59,999.
    const figure = w.count(2 * HOUR - 1)
    expect(figure).toBe(3_600_000 + 59_999 + 1)
  })

  it('clears everything, the clock included', () => {
    const w = new EventWindow(100)
    for (let t = 0; t < 10; t++) w.record(1000 - t)
    w.clear()
    expect([w.count(0), w.empty]).toEqual([0, true])
    w.record(0)
    expect(w.count(100)).toBe(1)
  })

  it('round-trips through ages taken at the middles of the buckets', () => {
    const w = new EventWindow(HOUR)
    w.record(100)
    w.record(2 * MINUTE + 5, 2)
    const ages = w.toAges(10 * MINUTE)
    // Ages from the buckets' middles (30 s and 150 s) at 10 min.
    expect(ages).toEqual([
      [570_000, 1],
      [450_000, 2],
    ])
    const restored = new EventWindow(HOUR)
    restored.loadAges(ages, 50_000)
    expect(restored.count(50_000)).toBe(3)
    // Re-bucketed on the new clock's grid: each event moved by less than half a bucket (10 s here).
    expect(restored.toAges(50_000)).toEqual([
      [560_000, 1],
      [440_000, 2],
    ])
    const same = new EventWindow(HOUR)
    same.loadAges(ages, 10 * MINUTE)
    expect(same.toAges(10 * MINUTE)).toEqual(ages)
  })

  it('never undercounts and overstates by at most the events of one bucket, at any rate, with bursts, gaps and clock jumps (property)', () => {
    const step = fc.oneof(
      // Bursts and steady events: a short advance then n events.
      { arbitrary: fc.record({ kind: fc.constant('events' as const), dt: fc.integer({ min: 0, max: 5000 }), n: fc.integer({ min: 1, max: 50 }) }), weight: 6 },
      // Idle gaps up to two hours.
      { arbitrary: fc.record({ kind: fc.constant('gap' as const), dt: fc.integer({ min: 0, max: 2 * HOUR }), n: fc.constant(0) }), weight: 2 },
      // The clock steps back (up to 3 h) or forward.
      { arbitrary: fc.record({ kind: fc.constant('jump' as const), dt: fc.integer({ min: -3 * HOUR, max: 3 * HOUR }), n: fc.constant(0) }), weight: 1 },
      { arbitrary: fc.record({ kind: fc.constant('nan' as const), dt: fc.constant(0), n: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
    )
    fc.assert(
      fc.property(fc.constantFrom(HOUR, 60_000, 6000), fc.integer({ min: -1e9, max: 1e9 }), fc.array(step, { maxLength: 300 }), (windowMs, start, steps) => {
        const w = new EventWindow(windowMs)
        const oracle = new Oracle(windowMs)
        let clock = start
        for (const s of steps) {
          clock += s.dt
          if (s.kind === 'events') {
            w.record(clock, s.n)
            oracle.record(clock, s.n)
          } else if (s.kind === 'nan') {
            w.record(Number.NaN, s.n)
            oracle.record(Number.NaN, s.n)
          }
          const reported = w.count(clock)
          const [exact, bucket] = oracle.read(clock)
          expect(reported).toBeGreaterThanOrEqual(exact)
          expect(reported - exact).toBeLessThanOrEqual(bucket)
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('EventWindow at clock readings beyond 2^53 buckets', () => {
  it('moves forward a few buckets without looping for ever (bucket index + 1 rounds back to the index there)', () => {
    // A 60 ms window has 1 ms buckets; at 2^54 ms bucket indices are 4 apart and index + 1 === index.
    const t0 = 2 ** 54
    const w = new EventWindow(60)
    w.record(t0)
    expect(w.count(t0 + 4)).toBe(1)
    w.record(t0 + 8, 2)
    expect(w.count(t0 + 8)).toBe(3)
    expect(w.count(t0 + 64)).toBe(2)
    expect(w.count(t0 + 128)).toBe(0)
  })
})
