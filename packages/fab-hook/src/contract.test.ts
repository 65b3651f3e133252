import { describe, expect, it } from 'vitest'
import { DEFAULT_SCORE, detectDegradation, extractFabScore, readTick } from './contract.js'

describe('extractFabScore', () => {
  it('prefers 1 - st.metrics.stress', () => {
    expect(extractFabScore({ st: { metrics: { stress: 0.25 } }, coherenceScore: 0.1, qualityScore: 0.2 })).toBe(0.75)
  })

  it('falls back to coherenceScore, then qualityScore', () => {
    expect(extractFabScore({ coherenceScore: 0.7, qualityScore: 0.2 })).toBe(0.7)
    expect(extractFabScore({ qualityScore: 0.6 })).toBe(0.6)
  })

  it('reads the snake_case names of a Python core', () => {
    expect(extractFabScore({ coherence_score: 0.7 })).toBe(0.7)
    expect(extractFabScore({ quality_score: 0.65 })).toBe(0.65)
  })

  it('defaults to 0.8 without any score', () => {
    expect(extractFabScore({})).toBe(DEFAULT_SCORE)
    expect(DEFAULT_SCORE).toBe(0.8)
    expect(extractFabScore({ st: null, coherenceScore: null, quality_score: undefined })).toBe(0.8)
    expect(extractFabScore({ st: { metrics: null } })).toBe(0.8)
  })

  it.each([
    ['a string', '0.9'],
    ['NaN', Number.NaN],
    ['an object', {}],
    ['a boolean', true],
  ])('yields NaN for %s, so the tracker counts an invalid sample', (_label, value) => {
    expect(extractFabScore({ coherenceScore: value })).toBeNaN()
    expect(extractFabScore({ st: { metrics: { stress: value } } })).toBeNaN()
  })

  it('treats null as absent and moves to the next source', () => {
    expect(extractFabScore({ coherenceScore: null, qualityScore: 0.3 })).toBe(0.3)
  })
})

describe('detectDegradation', () => {
  it('reads the degraded flag', () => {
    expect(detectDegradation({ degraded: true })).toBe(true)
    expect(detectDegradation({ degraded: false })).toBe(false)
    expect(detectDegradation({ degraded: 'yes' })).toBe(false)
  })

  it('sees a drop in mode rank', () => {
    expect(detectDegradation({ prevMode: 'FAB2', mode: 'FAB1' })).toBe(true)
    expect(detectDegradation({ prevMode: 'FAB1', mode: 'FAB0' })).toBe(true)
    expect(detectDegradation({ prevMode: 'FAB0', mode: 'FAB2' })).toBe(false)
    expect(detectDegradation({ prevMode: 'FAB1', mode: 'FAB1' })).toBe(false)
  })

  it('reads _prev_mode from a Python core', () => {
    expect(detectDegradation({ _prev_mode: 'FAB2', mode: 'FAB0' })).toBe(true)
  })

  it('ignores unknown modes and defaults to false', () => {
    expect(detectDegradation({ prevMode: 'FAB2', mode: 'FAB9' })).toBe(false)
    expect(detectDegradation({ prevMode: 'FAB9', mode: 'FAB0' })).toBe(false)
    expect(detectDegradation({ mode: 'FAB0' })).toBe(false)
    expect(detectDegradation({})).toBe(false)
  })
})

describe('readTick', () => {
  it('reads currentTick or current_tick, ignoring garbage', () => {
    expect(readTick({ currentTick: 12 })).toBe(12)
    expect(readTick({ current_tick: 7 })).toBe(7)
    expect(readTick({ currentTick: '12' })).toBeUndefined()
    expect(readTick({ currentTick: Number.NaN })).toBeUndefined()
    expect(readTick({})).toBeUndefined()
  })
})
