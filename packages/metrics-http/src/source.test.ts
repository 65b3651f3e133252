import { describe, expect, it } from 'vitest'
import { PROMETHEUS_CONTENT_TYPE, collect, isMetricsSource } from './source.js'

describe('sources', () => {
  it('recognises a source by shape', () => {
    expect(isMetricsSource({ contentType: 'x', metrics: () => '' })).toBe(true)
    expect(isMetricsSource({ contentType: 1, metrics: () => '' })).toBe(false)
    expect(isMetricsSource({ contentType: 'x' })).toBe(false)
    expect(isMetricsSource(null)).toBe(false)
  })

  it('collects async and sync sources, skipping empty ones', async () => {
    const out = await collect(
      [
        { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => Promise.resolve('a 1\n') },
        { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => '' },
        { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => 'b 2' },
      ],
      1000,
    )
    expect(out).toEqual({ contentType: PROMETHEUS_CONTENT_TYPE, body: 'a 1\nb 2\n' })
    expect(await collect([], 1000)).toEqual({ contentType: PROMETHEUS_CONTENT_TYPE, body: '' })
  })
})
