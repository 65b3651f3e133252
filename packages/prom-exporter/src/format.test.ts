import { describe, expect, it } from 'vitest'
import { escapeHelp, escapeLabelValue, formatLabels, formatValue } from './format.js'

describe('exposition formatting (as prom-client 15)', () => {
  it('formats special values the way prom-client does', () => {
    expect(formatValue(Number.NaN)).toBe('Nan')
    expect(formatValue(Infinity)).toBe('+Inf')
    expect(formatValue(-Infinity)).toBe('-Inf')
    expect(formatValue(0.1 + 0.2)).toBe('0.30000000000000004')
    expect(formatValue(1e21)).toBe('1e+21')
    expect(formatValue(-0)).toBe('0')
  })

  it('escapes help text and label values', () => {
    expect(escapeHelp('a\\b\nc"d')).toBe('a\\\\b\\nc"d')
    expect(escapeLabelValue('a\\b\nc"d')).toBe('a\\\\b\\nc\\"d')
    expect(formatLabels([])).toBe('')
    expect(formatLabels([['reason', 'x"y'], ['b', 'c']])).toBe('{reason="x\\"y",b="c"}')
  })
})
