import { describe, expect, it } from 'vitest'
import * as core from './index.js'

describe('public entry point', () => {
  it('exports the pinned API', () => {
    for (const name of [
      'StabilityTracker',
      'Hysteresis',
      'StabilityWindows',
      'EventWindow',
      'SnapshotError',
      'MODE_TO_NUMERIC',
      'NUMERIC_TO_MODE',
      'isFlagOn',
      'flagEnabled',
      'readFlag',
      'FEATURE_FLAGS',
      'modeForEma',
      'isFabMode',
      'windowIdProblem',
      'isValidWindowId',
      'monotonicClock',
      'STABILITY_KIND',
      'isStabilityTracker',
      'isHysteresis',
      'isStabilityWindows',
      'EVENT_BUCKETS',
      'numberOption',
      'booleanOption',
      'functionOption',
      'checkOptionKeys',
      'rangeError',
      'describeValue',
      'describeRange',
      'inRange',
    ]) {
      expect(core, name).toHaveProperty(name)
    }
  })

  it('does not leak the internal state layout', () => {
    expect(core).not.toHaveProperty('stepTracker')
    expect(core).not.toHaveProperty('stepWindow')
    expect(core).not.toHaveProperty('SnapshotReader')
    expect(core).not.toHaveProperty('brand')
  })

  it('checks window ids', () => {
    expect(core.isValidWindowId('global')).toBe(true)
    expect(core.isValidWindowId('')).toBe(false)
  })
})
