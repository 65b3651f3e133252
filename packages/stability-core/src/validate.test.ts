import { describe, expect, it } from 'vitest'
import { describeRange, describeValue, inRange } from './validate.js'
import { windowIdProblem } from './window-id.js'

describe('describeValue', () => {
  it.each([
    [1.5, '1.5'],
    [-0, '-0'],
    [Number.NaN, 'NaN'],
    [10n, '10n'],
    ['abc', '"abc" (string)'],
    ['x'.repeat(50), `"${'x'.repeat(40)}…" (string)`],
    [undefined, 'undefined'],
    [false, 'false'],
    [Symbol('s'), 'a symbol'],
    [() => 1, 'a function'],
    [null, 'null'],
    [[1], 'an array'],
    [{ a: 1 }, 'an object'],
  ])('renders %s as %s', (value, text) => {
    expect(describeValue(value)).toBe(text)
  })
})

describe('ranges', () => {
  it('describes open, closed and integer ranges', () => {
    expect(describeRange({ min: 0, max: 1, maxExclusive: true })).toBe('a number in [0, 1)')
    expect(describeRange({ min: 0, max: Infinity, minExclusive: true })).toBe('a number in (0, Infinity]')
    expect(describeRange({ min: 1, max: 10, integer: true })).toBe('an integer in [1, 10]')
  })

  it('checks bounds and types', () => {
    const r = { min: 0, max: 1, minExclusive: true }
    expect(inRange(0, r)).toBe(false)
    expect(inRange(1, r)).toBe(true)
    expect(inRange(1.0001, r)).toBe(false)
    expect(inRange('0.5', r)).toBe(false)
    expect(inRange(Number.NaN, { min: -Infinity, max: Infinity })).toBe(false)
  })
})

describe('windowIdProblem', () => {
  it('explains each refusal', () => {
    expect(windowIdProblem(null)).toBe('is not a string')
    expect(windowIdProblem('')).toBe('is empty')
    expect(windowIdProblem('y'.repeat(200))).toBe('is 200 characters long (at most 128)')
    expect(windowIdProblem('\t')).toBe('contains a control character (U+0009)')
    expect(windowIdProblem('\ud83d')).toBe('contains an unpaired surrogate')
    expect(windowIdProblem('global')).toBeNull()
  })
})
