import { describe, expect, it } from 'vitest'
import { chartsSvg, downsample, livePage, reportHtml } from './report.js'
import { runScenario, type SeriesPoint } from './simulation.js'

const point = (x: number, events = 0): SeriesPoint => ({ x, score: 0.5, ema: 0.5, recommended: 1, effective: 2, cooldownRemaining: 0, events })

describe('report', () => {
  it('draws nothing but a note without data', () => {
    expect(chartsSvg({ points: [], xLabel: 'tick', fab2MinEma: 0.8, fab1MinEma: 0.5 })).toBe('<p class="empty">No data yet.</p>')
  })

  it('draws one point, one band per mode run and a mark per event', () => {
    const svg = chartsSvg({ points: [point(1, 1), point(2), point(3)], xLabel: 'tick <&>', fab2MinEma: 0.8, fab1MinEma: 0.5 })
    expect(svg).toContain('<path class="score" d="M64.0,124.0L506.0,124.0L948.0,124.0"/>')
    expect(svg).toContain('<path class="marks" d="M64.0,24V224"/>')
    expect(svg.match(/<rect class="recommended fab1"/g)).toHaveLength(1)
    expect(svg.match(/<rect class="effective fab2"/g)).toHaveLength(1)
    expect(svg).toContain('>3 tick &lt;&amp;></text>')
    expect(svg).toContain('red marks: 1 degradation event(s)')
    const single = chartsSvg({ points: [point(5)], xLabel: 's', fab2MinEma: 0.8, fab1MinEma: 0.5 })
    expect(single).toContain('<path class="ema" d="M64.0,124.0"/>')
  })

  it('keeps at most the points asked for, summing the events in between', () => {
    const points = Array.from({ length: 10 }, (_, i) => point(i + 1, 1))
    const fewer = downsample(points, 4)
    expect(fewer.map((p) => [p.x, p.events])).toEqual([
      [3, 3],
      [6, 3],
      [9, 3],
      [10, 1],
    ])
    expect(downsample(points, 10)).toEqual(points)
  })

  it('writes a self-contained page with the checks', () => {
    const html = reportHtml({ title: 'T <1>', subtitle: 'S', points: runScenario().series, checks: [{ name: 'a "b"', ok: false, detail: 'c & d' }] })
    expect(html).toContain('<title>T &lt;1&gt;</title>')
    expect(html).toContain('<h2>Checks: FAILED</h2>')
    expect(html).toContain('<li class="bad">✗ a &quot;b&quot; <span class="tick">(c &amp; d)</span></li>')
    expect(html).not.toMatch(/<script|https?:\/\/|src=/)
    expect(livePage()).toMatch(/<script>\nconst chartsSvg = function chartsSvg\(input\) \{/)
  })

  it('the live page reaches the probe by paths relative to itself, so a reverse proxy may serve it under a prefix', () => {
    const page = livePage()
    expect(page).toContain("fetch('probe/state'")
    // No absolute path to the probe's own routes anywhere in the page.
    expect(page).not.toMatch(/["'(]\/(probe|metrics)\//)
  })
})
