import { createStabilityExporter } from '@auris/prom-exporter'
import { Hysteresis, StabilityTracker, StabilityWindows, type FabMode } from '@auris/stability-core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { record } from './figures.js'

const FIXED: [string, unknown][] = [
  ['NaN', Number.NaN],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['-0', -0],
  ['-1e308', -1e308],
  ['1.0000001', 1.0000001],
  ['"0.9"', '0.9'],
  ['null', null],
  ['undefined', undefined],
  ['{}', {}],
  ['[]', []],
  ['true', true],
  ['a BigInt', 10n],
]

function checkRanges(tracker: StabilityTracker): void {
  const m = tracker.getMetrics()
  for (const [key, value] of Object.entries(m)) if (typeof value === 'number') expect(Number.isFinite(value), key).toBe(true)
  expect(m.stabilityScoreEma).toBeGreaterThanOrEqual(0)
  expect(m.stabilityScoreEma).toBeLessThanOrEqual(1)
  expect(m.stabilityScore).toBeGreaterThanOrEqual(0)
  expect(m.stabilityScore).toBeLessThanOrEqual(1)
}

describe('2. bad samples', () => {
  it('never make the state non-finite or out of range, over the whole value space (property)', () => {
    let runs = 0
    let samples = 0
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.anything({ withBigInt: true, withNullPrototype: true, withTypedArray: true }), fc.anything()), { maxLength: 200 }), (inputs) => {
        runs++
        const tracker = new StabilityTracker({ clock: () => 0 })
        const filter = new Hysteresis({ clock: () => 0 })
        for (const [score, degraded] of inputs) {
          samples++
          tracker.tick(score as number, degraded as boolean)
          filter.update(score as FabMode, degraded as number)
          checkRanges(tracker)
        }
        const m = tracker.getMetrics()
        expect(m.ticks + m.invalidSamples).toBe(inputs.length)
      }),
      { numRuns: 300 },
    )
    record('bad-samples-property', { runs, samples })
  })

  it.each(FIXED)('ignore and count %s, visible as a metric; strict mode throws a RangeError', async (_label, value) => {
    const windows = new StabilityWindows({ clock: () => 0 })
    windows.tick('w', 0.9)
    windows.tick('w', value as number)
    const tracker = windows.get('w')?.tracker as StabilityTracker
    checkRanges(tracker)
    const m = tracker.getMetrics()
    const clamped = typeof value === 'number' && Number.isFinite(value) && (value < 0 || value > 1)
    const valid = typeof value === 'number' && value >= 0 && value <= 1
    expect(m.invalidSamples).toBe(valid || clamped ? 0 : 1)
    expect(m.clampedSamples).toBe(clamped ? 1 : 0)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const text = await exporter.metrics()
    expect(text).toContain(`atlas_invalid_samples_total{window_id="w"} ${String(m.invalidSamples)}`)
    expect(text).toContain(`atlas_clamped_samples_total{window_id="w"} ${String(m.clampedSamples)}`)
    const strict = new StabilityTracker({ strict: true })
    if (valid) expect(() => strict.tick(value)).not.toThrow()
    else expect(() => strict.tick(value as number)).toThrow(RangeError)
  })

  it('counts 10^6 invalid samples without a single allocation of state', () => {
    const tracker = new StabilityTracker({ clock: () => 0 })
    for (let i = 0; i < 1_000_000; i++) tracker.tick(Number.NaN)
    expect(tracker.getMetrics()).toMatchObject({ invalidSamples: 1_000_000, ticks: 0, stabilityScoreEma: 1 })
    record('bad-samples-fixed', { values: FIXED.length, invalidCounted: 1_000_000 })
  })
})
