import { describe, expect, it } from 'vitest'
import * as hook from './index.js'

describe('public entry point', () => {
  it('exports the hook API', () => {
    for (const name of ['extractFabScore', 'detectDegradation', 'attach', 'attachToFab', 'maybeTick', 'attachHysteresis', 'maybeHyst', 'exporterFailures']) {
      expect(typeof (hook as Record<string, unknown>)[name], name).toBe('function')
    }
  })
})
