import { describe, expect, it } from 'vitest'
import { clockOf, monotonicClock } from './clock.js'

describe('clocks', () => {
  it('defaults to performance.now()', () => {
    const before = performance.now()
    const reading = monotonicClock()
    expect(reading).toBeGreaterThanOrEqual(before)
    expect(reading).toBeLessThanOrEqual(performance.now())
  })

  it('uses the host performance object when there is one', () => {
    expect(clockOf({ performance: { now: () => 42 } })()).toBe(42)
  })

  it('falls back to Date.now() where performance is missing', () => {
    const reading = clockOf({})()
    expect(Math.abs(reading - Date.now())).toBeLessThan(1000)
  })
})
