import { describe, expect, it } from 'vitest'
import * as http from './index.js'

describe('public entry point', () => {
  it('exports the routes factory and the source helpers', () => {
    for (const name of ['metricsRoutes', 'readMetricsFlag', 'collect', 'isMetricsSource', 'checkAuth']) {
      expect(typeof (http as Record<string, unknown>)[name], name).toBe('function')
    }
    expect(http.METRICS_FLAG).toBe('AURIS_METRICS_EXP')
  })
})
