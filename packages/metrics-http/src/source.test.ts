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

  it('takes bytes from a lone source that offers them, text otherwise', async () => {
    const bytes = new TextEncoder().encode('a 1\n')
    const both = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => 'a 1\n', metricsBody: () => Promise.resolve(bytes) }
    expect((await collect([both], 1000)).body).toBe(bytes)
    // One source twice: its series are merged, not repeated (the routes refuse this when they are built).
    expect((await collect([both, both], 1000)).body).toBe('a 1\n')
    const om = { ...both, contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8', metrics: () => 'a 1\n# EOF\n' }
    expect((await collect([om], 1000)).body).toBe('a 1\n# EOF\n')
    const throwing = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => '', metricsBody: (): Uint8Array => { throw new Error('bytes broke') } }
    await expect(collect([throwing], 1000)).rejects.toThrow('bytes broke')
  })

  it('turns a non-Error throw into an Error', async () => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- a source may throw anything
    const odd = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: (): string => { throw 'odd' } }
    await expect(collect([odd], 1000)).rejects.toThrow('odd')
  })
})
