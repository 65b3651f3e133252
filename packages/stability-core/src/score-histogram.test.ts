import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_SCORE_BUCKETS, MAX_SCORE_BUCKETS, type ScoreHistogram } from './score-histogram.js'
import { SnapshotError } from './snapshot-error.js'
import { StabilityTracker } from './tracker.js'
import { StabilityWindows } from './windows.js'
import type { ReferenceVectors, TrackerCase } from './__fixtures__/reference-vectors.js'

const vectors = JSON.parse(readFileSync(new URL('./__fixtures__/reference-vectors.json', import.meta.url), 'utf8')) as ReferenceVectors
const trackerCases = vectors.cases.filter((c): c is TrackerCase => c.kind === 'tracker')

/** The exact histogram of `scores` over `buckets`: what Prometheus means by `_bucket{le}`, `_sum`, `_count`. */
function oracle(buckets: readonly number[], scores: readonly number[]): ScoreHistogram {
  return {
    buckets,
    counts: [...buckets.map((b) => scores.filter((s) => s <= b).length), scores.length],
    sum: scores.reduce((a, s) => a + s, 0),
    count: scores.length,
  }
}

describe('scoreBuckets option', () => {
  it('is opt-in: without it there is no histogram and the config keeps its shape', () => {
    const tracker = new StabilityTracker()
    tracker.tick(0.9)
    expect(tracker.getScoreHistogram()).toBe(null)
    expect(tracker.scoreBuckets).toBe(null)
    expect(tracker.readScoreHistogram(new Float64Array(4))).toBe(-1)
    expect(Object.keys(tracker.config)).toEqual(['minStableTicks', 'emaDecay', 'cooldownBase', 'cooldownMaxTicks', 'degradationThreshold'])
    expect('scoreHistogram' in tracker.toJSON().state).toBe(false)
  })

  it('DEFAULT_SCORE_BUCKETS are strictly increasing, frozen, and include the FAB thresholds 0.5 and 0.8', () => {
    expect(DEFAULT_SCORE_BUCKETS).toEqual([0, 0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1])
    expect(Object.isFrozen(DEFAULT_SCORE_BUCKETS)).toBe(true)
    expect(new StabilityTracker({ scoreBuckets: DEFAULT_SCORE_BUCKETS }).scoreBuckets).toEqual(DEFAULT_SCORE_BUCKETS)
  })

  it.each([
    [[], 'option "scoreBuckets" must be a non-empty array of at most 64 finite numbers in strictly increasing order (the +Inf bucket is implied); got an array'],
    ['0.5', 'option "scoreBuckets" must be a non-empty array of at most 64 finite numbers in strictly increasing order (the +Inf bucket is implied); got "0.5" (string)'],
    [null, 'option "scoreBuckets" must be a non-empty array of at most 64 finite numbers in strictly increasing order (the +Inf bucket is implied); got null'],
    [Array.from({ length: MAX_SCORE_BUCKETS + 1 }, (_, i) => i), 'option "scoreBuckets" must be a non-empty array of at most 64'],
    [[0.5, Number.NaN], 'option "scoreBuckets[1]" must be a finite number (a non-empty array'],
    [[0.5, Infinity], 'option "scoreBuckets[1]" must be a finite number (a non-empty array of at most 64 finite numbers in strictly increasing order (the +Inf bucket is implied)); got Infinity'],
    [[0.5, '0.8'], 'option "scoreBuckets[1]" must be a finite number'],
    [[0.5, 0.8, 0.8], 'option "scoreBuckets[2]" must be a number above scoreBuckets[1] (0.8): bounds must be strictly increasing; got 0.8'],
    [[0.5, 0.4], 'option "scoreBuckets[1]" must be a number above scoreBuckets[0] (0.5): bounds must be strictly increasing; got 0.4'],
    [[0, -0], 'option "scoreBuckets[1]" must be a number above scoreBuckets[0] (0): bounds must be strictly increasing; got -0'],
  ])('rejects %j with a RangeError naming field, value and range', (value, message) => {
    expect(() => new StabilityTracker({ scoreBuckets: value as number[] })).toThrow(RangeError)
    expect(() => new StabilityTracker({ scoreBuckets: value as number[] })).toThrow(`StabilityTracker: ${message}`)
  })

  it('copies and freezes the bounds, and spells -0 as 0', () => {
    const bounds = [-0, 0.5, 1]
    const tracker = new StabilityTracker({ scoreBuckets: bounds })
    bounds[1] = 0.7
    expect(tracker.scoreBuckets).toEqual([0, 0.5, 1])
    expect(Object.is(tracker.scoreBuckets?.[0], 0)).toBe(true)
    expect(Object.isFrozen(tracker.config.scoreBuckets)).toBe(true)
  })
})

describe('score histogram of a tracker', () => {
  it('counts the README trace exactly', () => {
    const tracker = new StabilityTracker({ minStableTicks: 4, scoreBuckets: [0.25, 0.5, 1] })
    for (let i = 0; i < 4; i++) tracker.tick(0.9)
    expect(tracker.getScoreHistogram()).toEqual({ buckets: [0.25, 0.5, 1], counts: [1, 2, 4, 4], sum: 2.5, count: 4 })
    // A degradation: scores 0, 0 (a cool-down of 2 ticks), then 0.25 once it ran out.
    tracker.tick(0.9, true)
    tracker.tick(0.9)
    tracker.tick(0.9)
    expect(tracker.getScoreHistogram()).toEqual({ buckets: [0.25, 0.5, 1], counts: [4, 5, 7, 7], sum: 2.75, count: 7 })
  })

  it('counts the probe schedule trace of the reference exactly (default buckets)', () => {
    const c = trackerCases.find((t) => t.name === 'probe-schedule-20-50-80') as TrackerCase
    const tracker = new StabilityTracker({ ...c.config, scoreBuckets: DEFAULT_SCORE_BUCKETS, clock: () => 0 })
    for (const [score, degraded] of c.inputs) tracker.tick(score, degraded)
    const h = tracker.getScoreHistogram() as ScoreHistogram
    expect(h.counts).toEqual([14, 26, 42, 72, 81, 88, 94, 99, 100, 100, 100])
    expect(h.count).toBe(100)
    expect(h.sum).toBeCloseTo(34.6, 12)
  })

  it.each(trackerCases.map((c) => [c.name, c] as const))('matches the exact histogram of the reference scores on %s', (_name, c) => {
    const scoreAt = c.fields.indexOf('stabilityScore')
    const scores = c.expected.map((row) => row[scoreAt] as number)
    const tracker = new StabilityTracker({ ...c.config, scoreBuckets: DEFAULT_SCORE_BUCKETS, clock: () => 0 })
    for (const [score, degraded] of c.inputs) tracker.tick(score, degraded)
    const h = tracker.getScoreHistogram() as ScoreHistogram
    const want = oracle(DEFAULT_SCORE_BUCKETS, scores)
    expect(h.counts).toEqual(want.counts)
    expect(h.count).toBe(c.inputs.length)
    expect(Math.abs(h.sum - want.sum)).toBeLessThanOrEqual(1e-9)
  })

  it('equals an exact oracle over random samples, valid or not (property)', () => {
    const bounds = fc.uniqueArray(fc.double({ min: -0.5, max: 1.5, noNaN: true }), { minLength: 1, maxLength: 12 }).map((b) => [...new Set(b.map((x) => (x === 0 ? 0 : x)))].sort((x, y) => x - y))
    const sample = fc.record({
      score: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 0.5, 0.8, 1, -0.2, 1.3, Number.NaN, Infinity)),
      degraded: fc.oneof({ weight: 9, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constant('yes' as unknown as boolean) }),
    })
    fc.assert(
      fc.property(bounds, fc.integer({ min: 1, max: 20 }), fc.array(sample, { maxLength: 300 }), (scoreBuckets, minStableTicks, samples) => {
        const tracker = new StabilityTracker({ minStableTicks, cooldownMaxTicks: 5, scoreBuckets, clock: () => 0 })
        const scores: number[] = []
        for (const s of samples) if (tracker.tick(s.score, s.degraded)) scores.push(tracker.stabilityScore())
        const h = tracker.getScoreHistogram() as ScoreHistogram
        const want = oracle(scoreBuckets, scores)
        expect(h.counts).toEqual(want.counts)
        expect(h.count).toBe(tracker.ticks)
        expect(Math.abs(h.sum - want.sum)).toBeLessThanOrEqual(scores.length * Number.EPSILON * 2)
        const flat = new Float64Array(scoreBuckets.length + 3)
        expect(tracker.readScoreHistogram(flat)).toBe(scoreBuckets.length + 3)
        expect([...flat]).toEqual([...want.counts, h.sum, h.count])
      }),
      { numRuns: 200 },
    )
  })

  it('observes with listeners too, and keeps observing after the last listener leaves', () => {
    const tracker = new StabilityTracker({ minStableTicks: 2, scoreBuckets: [0.5, 1] })
    const off = tracker.onTransition(() => undefined)
    tracker.tick(0.9)
    off()
    tracker.tick(0.9)
    expect(tracker.getScoreHistogram()).toEqual({ buckets: [0.5, 1], counts: [1, 2, 2], sum: 1.5, count: 2 })
  })

  it('survives reset(): counts are life-time, like totalDegradations', () => {
    const tracker = new StabilityTracker({ minStableTicks: 2, scoreBuckets: [0.5] })
    tracker.tick(0.9)
    tracker.tick(0.9)
    tracker.reset()
    tracker.tick(0.9)
    expect(tracker.getScoreHistogram()).toEqual({ buckets: [0.5], counts: [2, 3], sum: 2, count: 3 })
  })

  it('configure() enables a histogram on a live tracker (counting from then on), accepts the same bounds, refuses others', () => {
    const tracker = new StabilityTracker({ minStableTicks: 2 })
    tracker.tick(0.9)
    tracker.configure({ scoreBuckets: [0.5, 1] })
    tracker.tick(0.9)
    expect(tracker.getScoreHistogram()).toEqual({ buckets: [0.5, 1], counts: [0, 1, 1], sum: 1, count: 1 })
    tracker.configure({ scoreBuckets: [0.5, 1], minStableTicks: 3 })
    expect(tracker.config.minStableTicks).toBe(3)
    expect(() => {
      tracker.configure({ scoreBuckets: [0.5, 0.9], minStableTicks: 5 })
    }).toThrow('StabilityTracker.configure: option "scoreBuckets" must be the bounds in force (0.5, 1): counts already made cannot be re-bucketed; got an array')
    expect(tracker.config.minStableTicks).toBe(3)
    // A change that does not name the buckets keeps them.
    tracker.configure({ emaDecay: 0.5 })
    expect(tracker.config.scoreBuckets).toEqual([0.5, 1])
  })
})

describe('score histogram in snapshots', () => {
  const made = (): StabilityTracker => {
    const tracker = new StabilityTracker({ minStableTicks: 3, scoreBuckets: [0, 0.5, 1], clock: () => 0 })
    for (const [s, d] of [[0.9, false], [0.9, false], [0.2, true], [0.9, false], [0.9, false]] as const) tracker.tick(s, d)
    return tracker
  }

  it('round-trips, through JSON text too, and the restored tracker keeps counting the same way', () => {
    const a = made()
    const b = StabilityTracker.fromJSON(JSON.parse(JSON.stringify(a)), { clock: () => 0 })
    expect(a.toJSON().state.scoreHistogram).toEqual({ counts: [2, 2, 1, 0], sum: 1 / 3 + 2 / 3 + 1 / 3, count: 5 })
    expect(b.getScoreHistogram()).toEqual(a.getScoreHistogram())
    a.tick(0.9)
    b.tick(0.9)
    expect(b.getScoreHistogram()).toEqual(a.getScoreHistogram())
  })

  it('restores snapshots made without a histogram (earlier versions)', () => {
    const old = new StabilityTracker({ clock: () => 0 })
    old.tick(0.9)
    const restored = StabilityTracker.fromJSON(JSON.parse(JSON.stringify(old)))
    expect(restored.getScoreHistogram()).toBe(null)
    expect(restored.ticks).toBe(1)
  })

  const corrupt = (edit: (s: { config: Record<string, unknown>; state: Record<string, unknown> }) => void): unknown => {
    const snap = JSON.parse(JSON.stringify(made())) as { config: Record<string, unknown>; state: Record<string, unknown> }
    edit(snap)
    return snap
  }

  it.each([
    ['counts of the wrong length', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).counts = [2, 1, 2]), 'state.scoreHistogram.counts'],
    ['a negative count', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).counts = [3, -1, 3, 0]), 'state.scoreHistogram.counts[1]'],
    ['a fractional count', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).counts = [2, 1.5, 1.5, 0]), 'state.scoreHistogram.counts[1]'],
    ['counts not adding up to count', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).counts = [2, 1, 1, 0]), 'state.scoreHistogram.counts'],
    ['more observations than ticks', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).count = 6), 'state.scoreHistogram.count'],
    ['a sum above count', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).sum = 6), 'state.scoreHistogram.sum'],
    ['a NaN sum (null in JSON)', (s: { state: Record<string, unknown> }) => ((s.state.scoreHistogram as Record<string, unknown>).sum = null), 'state.scoreHistogram.sum'],
    ['a histogram that is not an object', (s: { state: Record<string, unknown> }) => (s.state.scoreHistogram = [1]), 'state.scoreHistogram'],
    ['buckets without a histogram', (s: { state: Record<string, unknown> }) => delete s.state.scoreHistogram, 'state.scoreHistogram'],
    ['a histogram without buckets', (s: { config: Record<string, unknown> }) => delete s.config.scoreBuckets, 'state.scoreHistogram'],
    ['bounds out of order', (s: { config: Record<string, unknown> }) => (s.config.scoreBuckets = [0, 1, 0.5]), 'config.scoreBuckets'],
  ])('refuses %s with a SnapshotError naming the field', (_what, edit, path) => {
    const bad = corrupt(edit)
    let error: unknown
    try {
      StabilityTracker.fromJSON(bad)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(SnapshotError)
    expect((error as SnapshotError).path).toBe(path)
  })
})

describe('score histogram through StabilityWindows', () => {
  it('gives every window a histogram from the registry defaults, observed on the id path and the handle path, invalid samples not counted', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 2, scoreBuckets: [0.5, 1] }, clock: () => 0 })
    windows.tick('a', 0.9)
    windows.tick('a', Number.NaN)
    const handle = windows.acquire('b') as NonNullable<ReturnType<StabilityWindows['acquire']>>
    handle.tick(0.9)
    handle.tick(0.9)
    handle.tick(0.9, 'no' as unknown as boolean)
    expect(windows.get('a')?.tracker.getScoreHistogram()).toEqual({ buckets: [0.5, 1], counts: [1, 1, 1], sum: 0.5, count: 1 })
    expect(windows.get('b')?.tracker.getScoreHistogram()).toEqual({ buckets: [0.5, 1], counts: [1, 2, 2], sum: 1.5, count: 2 })
    expect(windows.trackerConfig.scoreBuckets).toEqual([0.5, 1])
  })

  it('observes along with the hysteresis filter, listeners and pins', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 1, scoreBuckets: [0.5] }, clock: () => 0 })
    const seen: string[] = []
    windows.onTransition((e) => seen.push(e.kind))
    windows.tick('a', 0.9, true) // cool-down of 2 ticks: 0, 0
    windows.tick('a', 0.9)
    windows.pin('a', 'FAB0')
    windows.tick('a', 0.9) // stable again: 1
    expect(windows.get('a')?.tracker.getScoreHistogram()).toEqual({ buckets: [0.5], counts: [2, 3], sum: 1, count: 3 })
    expect(seen).toEqual(['effective'])
  })

  it('refuses per-window buckets: in overrides, in configure() with a pattern, and on a window tracker', () => {
    expect(() => new StabilityWindows({ overrides: [{ match: 'gpu-*', tracker: { scoreBuckets: [0.5] } }] })).toThrow(
      'StabilityWindows: overrides[0]: option "tracker.scoreBuckets" must be absent: every window shares the registry\'s buckets',
    )
    const windows = new StabilityWindows()
    windows.tick('gpu-0', 0.9)
    expect(() => {
      windows.configure({ tracker: { scoreBuckets: [0.5] } }, 'gpu-*')
    }).toThrow(RangeError)
    expect(windows.overrides).toEqual([])
    expect(() => {
      windows.get('gpu-0')?.tracker.configure({ scoreBuckets: [0.5] })
    }).toThrow('StabilityTracker.configure: option "scoreBuckets" must be absent on a registry window: set tracker.scoreBuckets on the registry')
    expect(windows.get('gpu-0')?.tracker.getScoreHistogram()).toBe(null)
  })

  it('configure() without a pattern enables the histogram on live and later windows, keeping their state', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 2 }, clock: () => 0 })
    windows.tick('a', 0.9)
    windows.configure({ tracker: { scoreBuckets: DEFAULT_SCORE_BUCKETS } })
    windows.tick('a', 0.9)
    windows.tick('b', 0.9)
    expect(windows.get('a')?.tracker.stableTicks).toBe(2)
    expect(windows.get('a')?.tracker.getScoreHistogram()?.counts).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    expect(windows.get('b')?.tracker.getScoreHistogram()?.counts).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    expect(() => {
      windows.configure({ tracker: { scoreBuckets: [0.5] } })
    }).toThrow('StabilityWindows.configure: option "scoreBuckets" must be the bounds in force (0, 0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1)')
    // Overrides of other fields leave the buckets in force.
    windows.configure({ tracker: { minStableTicks: 10 } }, 'a')
    expect(windows.configOf('a').tracker.scoreBuckets).toEqual(DEFAULT_SCORE_BUCKETS)
    windows.tick('a', 0.9)
    expect(windows.get('a')?.tracker.getScoreHistogram()?.count).toBe(2)
  })

  it('a window removed keeps its histogram on its own; a new window of the same id starts at zero', () => {
    const windows = new StabilityWindows({ tracker: { scoreBuckets: [0.5] }, clock: () => 0 })
    windows.tick('a', 0.9)
    const old = windows.get('a')?.tracker as StabilityTracker
    windows.delete('a')
    old.tick(0.9)
    windows.tick('a', 0.9)
    expect(old.getScoreHistogram()?.count).toBe(2)
    expect(windows.get('a')?.tracker.getScoreHistogram()?.count).toBe(1)
  })

  it('snapshots of a registry keep the buckets and counts; one with mismatched window buckets is refused', () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 2, scoreBuckets: [0.5, 1] }, clock: () => 0 })
    windows.tick('a', 0.9)
    windows.tick('a', 0.9)
    const snap = JSON.parse(JSON.stringify(windows)) as { windows: { tracker: { config: Record<string, unknown> } }[] }
    const restored = StabilityWindows.fromJSON(snap, { clock: () => 0 })
    expect(restored.get('a')?.tracker.getScoreHistogram()).toEqual(windows.get('a')?.tracker.getScoreHistogram())
    restored.tick('b', 0.9)
    expect(restored.get('b')?.tracker.getScoreHistogram()?.count).toBe(1)
    const window = snap.windows[0] as { tracker: { config: Record<string, unknown> } }
    window.tracker.config.scoreBuckets = [0.5, 2]
    expect(() => StabilityWindows.fromJSON(snap)).toThrow(SnapshotError)
    try {
      StabilityWindows.fromJSON(snap)
    } catch (e) {
      expect((e as SnapshotError).path).toBe('windows[0].tracker.config')
    }
  })
})
