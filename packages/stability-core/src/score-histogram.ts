/**
 * A histogram of the instantaneous stability score, one observation per
 * accepted tick, for quantiles (p50, p95, p99) and SLOs on the score. Counts
 * are life-time, like `totalDegradations`: `reset()` keeps them, so a
 * Prometheus counter fed from them never goes backwards.
 */
import { rangeError } from './validate.js'

/**
 * Upper bounds of the score histogram a user gets by asking for the
 * defaults (`scoreBuckets: DEFAULT_SCORE_BUCKETS`); `+Inf` is implied.
 *
 * The score is `stableTicks / minStableTicks` capped at 1, and exactly 0
 * during a cool-down, so it takes few distinct values and the bounds sit
 * where decisions are made: `0` isolates cool-down ticks (a quantile there
 * is exactly 0, not interpolated), `0.5` and `0.8` are the FAB1 and FAB2
 * thresholds and the usual SLO targets (`p50 >= 0.8`), the bounds between
 * them put a quantile within 0.1 of the truth where it matters, and `0.9`,
 * `0.95`, `1` separate "almost recovered" from "fully stable" for p95/p99.
 * Ten bounds keep a histogram to eleven series per window.
 *
 * @example
 * ```ts
 * const tracker = new StabilityTracker({ scoreBuckets: DEFAULT_SCORE_BUCKETS })
 * tracker.tick(0.9)
 * tracker.getScoreHistogram()?.count // 1
 * ```
 */
export const DEFAULT_SCORE_BUCKETS: readonly number[] = Object.freeze([0, 0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1])

/** Most upper bounds a score histogram may have (each is a series per window). */
export const MAX_SCORE_BUCKETS = 64

/** A reading of a score histogram, as Prometheus exposes one. */
export interface ScoreHistogram {
  /** Finite upper bounds, strictly increasing; the `+Inf` bucket is implied. */
  readonly buckets: readonly number[]
  /**
   * Cumulative counts: `counts[i]` is the number of scores `<= buckets[i]`;
   * the last entry (index `buckets.length`) is the `+Inf` bucket, equal to `count`.
   */
  readonly counts: readonly number[]
  /** Sum of the observed scores. */
  readonly sum: number
  /** Scores observed: the accepted ticks since the histogram was enabled. */
  readonly count: number
}

/**
 * Validates a `scoreBuckets` option: `undefined` stays `undefined`; else a
 * frozen copy of a non-empty array of at most {@link MAX_SCORE_BUCKETS}
 * strictly increasing finite numbers.
 *
 * @throws {RangeError} naming the field (or the offending element), the value and the allowed range.
 * @internal
 */
export function scoreBucketsOption(owner: string, field: string, value: unknown): readonly number[] | undefined {
  if (value === undefined) return undefined
  const allowed = `a non-empty array of at most ${String(MAX_SCORE_BUCKETS)} finite numbers in strictly increasing order (the +Inf bucket is implied)`
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_SCORE_BUCKETS) throw rangeError(owner, field, value, allowed)
  const out: number[] = []
  for (let i = 0; i < value.length; i++) {
    const bound: unknown = value[i]
    const previous = out[i - 1]
    if (typeof bound !== 'number' || !Number.isFinite(bound)) throw rangeError(owner, `${field}[${String(i)}]`, bound, `a finite number (${allowed})`)
    if (previous !== undefined && !(bound > previous)) {
      throw rangeError(owner, `${field}[${String(i)}]`, bound, `a number above ${field}[${String(i - 1)}] (${String(previous)}): bounds must be strictly increasing`)
    }
    // -0 and 0 are one bound: keep one spelling, so `le="0"` is never `le="-0"`.
    out.push(bound === 0 ? 0 : bound)
  }
  return Object.freeze(out)
}

/** Whether two bucket lists hold the same bounds. @internal */
export function sameBuckets(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === b) return true
  if (a?.length !== b?.length || a === undefined || b === undefined) return false
  return a.every((bound, i) => bound === b[i])
}

/**
 * The counts of one histogram. Per-bucket (not cumulative) counts, so an
 * observation touches one slot; readings cumulate them.
 *
 * @internal
 */
export class ScoreHistogramState {
  readonly bounds: readonly number[]
  /** Per bucket, the `+Inf` bucket last: `bounds.length + 1` slots. */
  readonly counts: Float64Array
  /** The bounds as doubles, for the scan of every observation. */
  private readonly b: Float64Array
  sum = 0
  count = 0

  constructor(bounds: readonly number[]) {
    this.bounds = bounds
    this.b = Float64Array.from(bounds)
    this.counts = new Float64Array(bounds.length + 1)
  }

  /**
   * Observes the instantaneous score of the tracker state at `o` of `s`
   * (0 in a cool-down, else stable ticks / minStableTicks, capped at 1).
   * Reading it here rather than taking it as an argument keeps a double off
   * the call, which V8 would otherwise box on the heap when the call is not
   * inlined (slot numbers as in state.ts).
   */
  observeAt(s: Float64Array, o: number, minStableTicks: number): void {
    let score = 0
    if ((s[o + 2] as number) <= 0) {
      const stable = s[o] as number
      score = stable >= minStableTicks ? 1 : stable / minStableTicks
    }
    this.observe(score)
  }

  observe(score: number): void {
    const b = this.b
    const n = b.length
    // Few bounds, and the score mostly sits in the top ones: a linear scan beats a binary search here.
    let i = 0
    while (i < n && score > (b[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += score
    this.count++
  }

  /** Writes the cumulative counts (`+Inf` last), the sum and the count at `out[at…]`; returns the end. */
  writeTo(out: Float64Array | number[], at: number): number {
    let total = 0
    for (const n of this.counts) {
      total += n
      out[at++] = total
    }
    out[at++] = this.sum
    out[at++] = this.count
    return at
  }

  read(): ScoreHistogram {
    const all = new Array<number>(this.counts.length + 2)
    this.writeTo(all, 0)
    return { buckets: this.bounds, counts: all.slice(0, this.counts.length), sum: this.sum, count: this.count }
  }
}
