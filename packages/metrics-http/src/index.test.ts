import { describe, expect, it } from 'vitest'
import * as http from './index.js'

describe('public entry point', () => {
  it('exports the routes factory and the source helpers', () => {
    for (const name of ['metricsRoutes', 'readMetricsFlag', 'collect', 'isMetricsSource', 'checkAuth', 'evaluateReadiness']) {
      expect(typeof (http as Record<string, unknown>)[name], name).toBe('function')
    }
    expect(http.METRICS_FLAG).toBe('AURIS_METRICS_EXP')
    expect(http.MAX_BEARER_TOKEN_LENGTH).toBe(4089)
  })
})
