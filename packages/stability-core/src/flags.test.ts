import { afterEach, describe, expect, it } from 'vitest'
import { FEATURE_FLAGS, defaultEnv, flagEnabled, isFlagOn, readFlag } from './flags.js'

describe('isFlagOn', () => {
  it.each(['on', 'ON', 'On', 'true', 'TRUE', 'True', '1', ' on ', 'true\n'])('%j enables', (value) => {
    expect(isFlagOn(value)).toBe(true)
  })

  it.each(['off', 'false', '0', '', 'yes', 'enabled', '2', 'o n', undefined])('%j disables', (value) => {
    expect(isFlagOn(value)).toBe(false)
  })
})

describe('flag reading', () => {
  const name = FEATURE_FLAGS.metrics
  const saved = process.env[name]
  afterEach(() => {
    if (saved === undefined) delete process.env[name]
    else process.env[name] = saved
  })

  it('names the three flags', () => {
    expect(FEATURE_FLAGS).toEqual({ metrics: 'AURIS_METRICS_EXP', stabilityHook: 'AURIS_STABILITY_HOOK', hysteresis: 'AURIS_HYSTERESIS' })
  })

  it('reads an injected env record', () => {
    expect(flagEnabled(name, { AURIS_METRICS_EXP: 'on' })).toBe(true)
    expect(flagEnabled(name, { AURIS_METRICS_EXP: 'off' })).toBe(false)
    expect(flagEnabled(name, {})).toBe(false)
  })

  it('treats non-string bindings as unset', () => {
    expect(readFlag(name, { AURIS_METRICS_EXP: true })).toBeUndefined()
    expect(flagEnabled(name, { AURIS_METRICS_EXP: 1 })).toBe(false)
  })

  it('reads process.env when called, not at import', () => {
    process.env[name] = 'on'
    expect(flagEnabled(name)).toBe(true)
    process.env[name] = 'off'
    expect(flagEnabled(name)).toBe(false)
    expect(defaultEnv()).toBe(process.env)
  })

  it('finds no environment where the runtime has no process', () => {
    const proc = globalThis.process
    // Simulates Workers, where `process` is absent without nodejs_compat.
    Reflect.deleteProperty(globalThis, 'process')
    try {
      expect(defaultEnv()).toBeUndefined()
      expect(flagEnabled(name)).toBe(false)
    } finally {
      globalThis.process = proc
    }
  })
})
