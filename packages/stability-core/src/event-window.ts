const EMPTY = new Float64Array(0)

/**
 * Counts events over a trailing time window in O(1) amortised per event and
 * per read, in bounded memory.
 *
 * Events are kept as (time, count) entries in a ring buffer, oldest first;
 * events at the same instant share an entry. Reading expires entries older
 * than the window from the head while a running total is kept, so neither
 * recording nor reading scans the buffer.
 *
 * Memory: at most `capacity` entries (16 bytes each), allocated on the first
 * event and grown by doubling, so a window without events costs nothing.
 * The count is exact while at most `capacity` distinct event instants fall
 * inside the window. Past that, the oldest entry is merged into the next one
 * (its events are counted as if they happened a little later), so the count
 * can only overstate, never understate, and only for events at the window's
 * trailing edge. {@link EventWindow.merged} says how many entries were merged.
 *
 * Layout: entry `i` is `buf[2 * i]` (time) and `buf[2 * i + 1]` (count), one
 * array rather than two, so recording touches one cache line at the tail
 * and expiring one at the head: in a registry of many windows these lines
 * are rarely cached. Ring positions wrap by a compare instead of `%` (an
 * integer division).
 */
export class EventWindow {
  /** Window length in ms. An event exactly `windowMs` old still counts. */
  readonly windowMs: number
  /** Maximum number of distinct instants kept (at least 2). */
  readonly capacity: number

  private buf: Float64Array = EMPTY
  /** Entries allocated: `buf.length / 2`. */
  private size = 0
  private head = 0
  private length = 0
  private total = 0
  private newest = -Infinity
  private mergedEntries = 0

  constructor(windowMs: number, capacity: number) {
    this.windowMs = windowMs
    this.capacity = Math.max(2, capacity)
  }

  /** Number of entries merged because the buffer was full (0 means every count so far was exact). */
  get merged(): number {
    return this.mergedEntries
  }

  /** Distinct instants held now; memory in use is 16 bytes per allocated slot. */
  get entries(): number {
    return this.length
  }

  /** Slots allocated (grows by doubling up to `capacity`). */
  get allocated(): number {
    return this.size
  }

  /**
   * Records `count` events at time `t` (ms). A time earlier than the newest
   * recorded one (a clock stepped back, or NaN) is recorded at the newest
   * time, which keeps the buffer ordered.
   */
  record(t: number, count = 1): void {
    if (!(t >= this.newest)) t = this.newest
    this.expire(t)
    this.total += count
    if (this.length > 0 && t === this.newest) {
      const last = this.slot(this.length - 1)
      this.buf[2 * last + 1] = (this.buf[2 * last + 1] as number) + count
      return
    }
    if (this.length === this.size) {
      if (this.size < this.capacity) this.grow()
      else this.mergeOldest()
    }
    const slot = this.slot(this.length)
    this.buf[2 * slot] = t
    this.buf[2 * slot + 1] = count
    this.length++
    this.newest = t
  }

  /** Events within the window ending at `now` (ms). */
  count(now: number): number {
    if (this.length > 0) this.expire(now)
    return this.total
  }

  /** Drops every event. */
  clear(): void {
    this.buf = EMPTY
    this.size = 0
    this.head = 0
    this.length = 0
    this.total = 0
    this.newest = -Infinity
    this.mergedEntries = 0
  }

  /**
   * The held entries as `[ageMs, count]` pairs relative to `now`, oldest
   * first. Ages rather than times, so a snapshot taken under one clock (say
   * `performance.now()` in one process) restores under another.
   */
  toAges(now: number): [number, number][] {
    this.count(now)
    const out: [number, number][] = []
    for (let i = 0; i < this.length; i++) {
      const slot = this.slot(i)
      out.push([now - (this.buf[2 * slot] as number), this.buf[2 * slot + 1] as number])
    }
    return out
  }

  /** Replaces the content with `[ageMs, count]` pairs, oldest first, relative to `now`. */
  loadAges(entries: readonly (readonly [number, number])[], now: number): void {
    this.clear()
    for (const [age, count] of entries) this.record(now - age, count)
  }

  /** Ring position of the `i`-th entry from the head (`0 <= i < size`). */
  private slot(i: number): number {
    const slot = this.head + i
    return slot < this.size ? slot : slot - this.size
  }

  private expire(now: number): void {
    const oldest = now - this.windowMs
    const buf = this.buf
    while (this.length > 0 && (buf[2 * this.head] as number) < oldest) {
      this.total -= buf[2 * this.head + 1] as number
      this.head = this.slot(1)
      this.length--
    }
    // Re-zero so float drift from long add/subtract runs cannot accumulate.
    if (this.length === 0) this.total = 0
  }

  private grow(): void {
    const size = Math.min(Math.max(8, this.size * 2), this.capacity)
    const buf = new Float64Array(2 * size)
    for (let i = 0; i < this.length; i++) {
      const slot = this.slot(i)
      buf[2 * i] = this.buf[2 * slot] as number
      buf[2 * i + 1] = this.buf[2 * slot + 1] as number
    }
    this.buf = buf
    this.size = size
    this.head = 0
  }

  private mergeOldest(): void {
    const next = this.slot(1)
    this.buf[2 * next + 1] = (this.buf[2 * next + 1] as number) + (this.buf[2 * this.head + 1] as number)
    this.head = next
    this.length--
    this.mergedEntries++
  }
}
