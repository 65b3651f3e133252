import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import { StabilityTracker } from './tracker.js'
import type { HysteresisCase, ReferenceVectors, TrackerCase } from './__fixtures__/reference-vectors.js'

/**
 * Replays the reference vectors (the reference implementation's conformance
 * vectors, copied as a fixture): its per-tick state, every field, every tick.
 */
const vectors = JSON.parse(readFileSync(new URL('./__fixtures__/reference-vectors.json', import.meta.url), 'utf8')) as ReferenceVectors

const trackerCases = vectors.cases.filter((c): c is TrackerCase => c.kind === 'tracker')
const hysteresisCases = vectors.cases.filter((c): c is HysteresisCase => c.kind === 'hysteresis')

const FLOAT_FIELDS = new Set(['stabilityScore', 'stabilityScoreEma'])
/** Events per hour is counted in one-minute buckets: checked against its own rule below, not tick-exact. */
const BUCKETED = 'degradationEventsPerHour'
const HOUR = 3_600_000
const BUCKET = 60_000

function closeEnough(actual: number, expected: number): boolean {
  const diff = Math.abs(actual - expected)
  return diff <= 1e-12 || diff <= 1e-12 * Math.abs(expected)
}

/** Compares one row; returns a description of the first mismatch, or null. */
function mismatch(fields: string[], actual: Record<string, unknown>, expected: unknown[]): string | null {
  for (const [i, field] of fields.entries()) {
    const want = expected[i]
    const got = actual[field]
    if (field === BUCKETED) continue
    const ok = FLOAT_FIELDS.has(field) ? typeof got === 'number' && closeEnough(got, want as number) : got === want
    if (!ok) return `${field}: got ${String(got)}, expected ${String(want)}`
  }
  return null
}

describe('reference vectors', () => {
  it('holds the 26 cases the conformance suite pins', () => {
    expect(vectors.cases).toHaveLength(26)
    expect(trackerCases).toHaveLength(13)
    expect(hysteresisCases).toHaveLength(13)
  })

  describe.each(trackerCases.map((c) => [c.name, c] as const))('tracker %s', (_name, c) => {
    it('matches every field on every tick', () => {
      let now = 0
      const tracker = new StabilityTracker({ ...c.config, clock: () => now })
      let ticks = 0
      const eventTimes: number[] = []
      const perHour = c.fields.indexOf(BUCKETED)
      for (const [k, [score, degraded]] of c.inputs.entries()) {
        // Tick k (1-based) happens at startTime + k * tickSeconds, in seconds; the tracker's clock is in ms.
        now = (c.startTime + (k + 1) * c.tickSeconds) * 1000
        const before = tracker.totalDegradations
        tracker.tick(score, degraded)
        if (tracker.totalDegradations > before) eventTimes.push(now)
        const row = tracker.getMetrics() as unknown as Record<string, unknown>
        const problem = mismatch(c.fields, row, c.expected[k] as unknown[])
        if (problem !== null) expect.fail(`tick ${String(k + 1)}: ${problem}`)
        if (perHour >= 0) {
          // The reference's exact count, plus the events of the oldest bucket that are older than the hour: never more than that bucket holds.
          const oldest = Math.floor(now / BUCKET) - 60
          const extra = eventTimes.filter((t) => Math.floor(t / BUCKET) === oldest && t < now - HOUR).length
          const bucket = eventTimes.filter((t) => Math.floor(t / BUCKET) === oldest).length
          expect(extra).toBeLessThanOrEqual(bucket)
          const want = (c.expected[k] as number[])[perHour] as number
          if (row[BUCKETED] !== want + extra) {
            expect.fail(`tick ${String(k + 1)}: ${BUCKETED}: got ${String(row[BUCKETED])}, expected ${String(want)} + ${String(extra)}`)
          }
        }
        ticks++
      }
      expect(ticks).toBe(c.expected.length)
    })
  })

  describe.each(hysteresisCases.map((c) => [c.name, c] as const))('hysteresis %s', (_name, c) => {
    it('matches every field on every tick', () => {
      const filter = new Hysteresis({ ...c.config, clock: () => 0 })
      for (const [tick, desired] of c.desired.entries()) {
        filter.update(desired, tick)
        const row = filter.getMetrics() as unknown as Record<string, unknown>
        const problem = mismatch(c.fields, row, c.expected[tick] as unknown[])
        if (problem !== null) expect.fail(`tick ${String(tick)}: ${problem}`)
      }
      expect(filter.getMetrics().invalidUpdates).toBe(0)
    })
  })

  it('reproduces the probe scenario figures quoted for the reference', () => {
    const probe = trackerCases.find((c) => c.name === 'probe-schedule-20-50-80')
    if (probe === undefined) throw new Error('probe case missing from the fixture')
    const tracker = new StabilityTracker({ ...probe.config, clock: () => 0 })
    for (const [score, degraded] of probe.inputs) tracker.tick(score, degraded)
    const m = tracker.getMetrics()
    expect(m.stabilityScoreEma).toBe(0.3040291910375369)
    expect(m.stableTicks).toBe(13)
    expect(m.degradationCount).toBe(3)
    expect(m.recommendedMode).toBe('FAB0')
  })
})
