const EMPTY = new Float64Array(0)

/** Buckets per window: the reported count overstates by at most one bucket's events (1/60 of the window). */
export const EVENT_BUCKETS = 60

/**
 * Counts events over a trailing time window in fixed-width time buckets:
 * O(1) memory per window at any event rate, O(1) per event and amortised
 * O(1) per read.
 *
 * The window of `windowMs` is cut into {@link EVENT_BUCKETS} buckets of
 * `bucketMs = windowMs / 60`; bucket `k` holds the events of
 * `[k * bucketMs, (k + 1) * bucketMs)`. A read at time `now` sums the
 * buckets from the one holding `now - windowMs` to the one holding `now`
 * (61 of them, one ring of 61 doubles). Those buckets cover every event of
 * `[now - windowMs, now]` plus, in the oldest bucket, events a little older
 * than the window. So the reported count is never below the exact count and
 * never above it by more than the events of one bucket (the oldest): the
 * error bound.
 *
 * Clock jumps. A reading earlier than the latest one seen (a clock stepped
 * back, or NaN / ±Infinity) does not move the window back: it is taken as
 * the latest time, and every later reading is shifted forward by the same
 * amount, so time resumes where it was (a step back counts as a pause). A
 * step forward is elapsed time: events older than the window expire, and a
 * jump of more than the window empties it. The bound above holds against
 * the exact count on these adjusted times.
 *
 * Memory: nothing until the first event, then 61 doubles (488 bytes).
 */
export class EventWindow {
  /** Window length in ms. An event exactly `windowMs` old still counts. */
  readonly windowMs: number
  /** Width of one bucket in ms: `windowMs / 60`. */
  readonly bucketMs: number

  private counts: Float64Array = EMPTY
  /** Bucket index of the newest bucket in the ring. */
  private newest = 0
  private total = 0
  /** Added to every reading so that adjusted times never decrease. */
  private shift = 0
  /** Latest adjusted time seen (-Infinity before the first reading). */
  private latest = -Infinity

  /** An empty window of `windowMs` ms (finite and > 0), cut into {@link EVENT_BUCKETS} buckets. */
  constructor(windowMs: number) {
    this.windowMs = windowMs
    this.bucketMs = windowMs / EVENT_BUCKETS
  }

  /** Whether no event was recorded since construction or the last `clear()` (a read can then skip the clock). */
  get empty(): boolean {
    return this.total === 0
  }

  /** Records `count` events at time `t` (ms), adjusted as described in the class comment. */
  record(t: number, count = 1): void {
    const k = Math.floor(this.adjust(t) / this.bucketMs)
    if (this.counts === EMPTY) {
      this.counts = new Float64Array(EVENT_BUCKETS + 1)
      this.newest = k
    } else if (k > this.newest) this.advance(k)
    const slot = this.slot(k)
    this.counts[slot] = (this.counts[slot] as number) + count
    this.total += count
  }

  /** Events within the window ending at `now` (ms), within one bucket's events above the exact count. */
  count(now: number): number {
    const k = Math.floor(this.adjust(now) / this.bucketMs)
    if (this.counts !== EMPTY && k > this.newest) this.advance(k)
    return this.total
  }

  /** Drops every event and forgets the clock. */
  clear(): void {
    this.counts = EMPTY
    this.newest = 0
    this.total = 0
    this.shift = 0
    this.latest = -Infinity
  }

  /**
   * The non-empty buckets as `[ageMs, count]` pairs relative to `now`,
   * oldest first. A bucket's age is taken at its middle (within [0,
   * windowMs]): restored under the same clock, every event lands in its
   * bucket again; under another clock, whose buckets start elsewhere, an
   * event moves by at most half a bucket. Ages rather than times, so a
   * snapshot taken under one clock restores under another.
   */
  toAges(now: number): [number, number][] {
    this.count(now)
    const out: [number, number][] = []
    if (this.counts === EMPTY) return out
    const e = this.latest
    for (let k = this.newest - EVENT_BUCKETS; k <= this.newest; k++) {
      const count = this.counts[this.slot(k)] as number
      if (count > 0) out.push([Math.min(this.windowMs, Math.max(0, e - (k + 0.5) * this.bucketMs)), count])
    }
    return out
  }

  /** Replaces the content with `[ageMs, count]` pairs, oldest first, relative to `now`. */
  loadAges(entries: readonly (readonly [number, number])[], now: number): void {
    this.clear()
    for (const [age, count] of entries) this.record(now - age, count)
    // The oldest entry may have set the window's time below `now`; read once at `now` to settle it.
    this.count(now)
  }

  /** Adjusted time of a reading: never below the latest one. */
  private adjust(t: number): number {
    let e = t + this.shift
    if (!(e >= this.latest && e - e === 0)) {
      if (this.latest === -Infinity) e = t - t === 0 ? t : 0
      else {
        // A finite reading that went back: shift later readings by the step.
        if (t - t === 0) this.shift += this.latest - e
        e = this.latest
      }
    }
    this.latest = e
    return e
  }

  /** Ring position of bucket `k` (`k` may be negative). */
  private slot(k: number): number {
    const n = EVENT_BUCKETS + 1
    const r = k % n
    return r < 0 ? r + n : r
  }

  /** Moves the newest bucket to `k` (> newest), expiring the buckets that fall out of the window. */
  private advance(k: number): void {
    const counts = this.counts
    const steps = k - this.newest
    if (steps > EVENT_BUCKETS) {
      counts.fill(0)
      this.total = 0
    } else {
      // Walk the ring positions, not the bucket indices: above 2^53 buckets
      // `index + 1` rounds back to `index`, and a loop on it would never end.
      // k - newest is exact for two nearby doubles, so the walk ends on slot(k).
      let slot = this.slot(this.newest)
      for (let d = 0; d < steps; d++) {
        slot = slot === EVENT_BUCKETS ? 0 : slot + 1
        this.total -= counts[slot] as number
        counts[slot] = 0
      }
    }
    this.newest = k
  }
}
