import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FAB_MODES, MODE_TO_NUMERIC, NUMERIC_TO_MODE, isFabMode, modeForEma } from './modes.js'

describe('modes', () => {
  it('maps modes to numbers and back', () => {
    expect(MODE_TO_NUMERIC).toEqual({ FAB0: 0, FAB1: 1, FAB2: 2 })
    for (const mode of FAB_MODES) expect(NUMERIC_TO_MODE[MODE_TO_NUMERIC[mode]]).toBe(mode)
    expect(Object.isFrozen(MODE_TO_NUMERIC)).toBe(true)
  })

  it('recognises exactly the three modes', () => {
    expect(FAB_MODES.every(isFabMode)).toBe(true)
    for (const other of ['fab0', 'FAB3', '', null, 2, undefined]) expect(isFabMode(other)).toBe(false)
  })

  it('recommends by EMA thresholds 0.8 and 0.5, inclusive', () => {
    expect(modeForEma(0.8)).toBe('FAB2')
    expect(modeForEma(0.7999999999999999)).toBe('FAB1')
    expect(modeForEma(0.5)).toBe('FAB1')
    expect(modeForEma(0.49999999999999994)).toBe('FAB0')
  })

  it('is monotonic in the EMA (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        expect(MODE_TO_NUMERIC[modeForEma(lo)]).toBeLessThanOrEqual(MODE_TO_NUMERIC[modeForEma(hi)])
      }),
    )
  })
})
