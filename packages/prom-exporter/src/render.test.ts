import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DEFAULT_SCORE_BUCKETS, Hysteresis, StabilityTracker, StabilityWindows, windowIdProblem } from '@auris/stability-core'
import type * as Core from '@auris/stability-core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createStabilityExporter } from './exporter.js'
import { FAMILIES } from './names.js'
import { CHUNK_BYTES } from './writer.js'
import { parseExposition } from './testing/exposition.js'
import { promtool, pythonParse } from './testing/parsers.js'

const HOSTILE = ['global', 'a"b', 'back\\slash', '"', '\\', '\\"', 'x="y"', 'a,b', '{}', 'é😀', '__proto__', ' ', '# HELP x', 'a}b{c']

function busy(ids: readonly string[], rounds = 40): StabilityWindows {
  const windows = new StabilityWindows({ maxWindows: Math.max(ids.length, 1), tracker: { minStableTicks: 5, scoreBuckets: DEFAULT_SCORE_BUCKETS }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
  for (let r = 0; r < rounds; r++) for (const [i, id] of ids.entries()) windows.tick(id, (r + i) % 5 === 0 ? 0.2 : 0.9, (r + i) % 11 === 0)
  return windows
}

describe('OpenMetrics', () => {
  it('names counter families without _total, keeps it on samples, gives units and ends with # EOF', () => {
    const exporter = createStabilityExporter()
    exporter.track(busy(['global']))
    const text = exporter.render('openmetrics')
    expect(text.endsWith('\n# EOF\n')).toBe(true)
    expect(text).toContain('# HELP atlas_degradation_count Degradation events')
    expect(text).toContain('# TYPE atlas_degradation_count counter\natlas_degradation_count_total{window_id="global"} ')
    expect(text).toContain('# TYPE atlas_stable_ticks gauge\n# UNIT atlas_stable_ticks ticks\n')
    expect(text).toContain('# TYPE atlas_windows_rejected counter\natlas_windows_rejected_total{reason="invalid_id"} 0\n')
    expect(text).not.toMatch(/\n\n/)
    expect(text.match(/^# TYPE /gm)).toHaveLength(FAMILIES.length)
  })

  it('is accepted by prometheus_client’s OpenMetrics parser, and the text format by its text parser and promtool, with hostile ids and constant labels', () => {
    const items: { text: string; format: 'prometheus' | 'openmetrics' }[] = []
    for (const constLabels of [{}, { service: 'fab "1"\\\n', instance: 'é😀' }]) {
      const exporter = createStabilityExporter({ constLabels })
      exporter.track(busy(HOSTILE))
      exporter.update('pushed', new StabilityTracker())
      exporter.updateHysteresis('pushed', new Hysteresis())
      items.push({ text: exporter.render('openmetrics'), format: 'openmetrics' }, { text: exporter.render(), format: 'prometheus' })
      expect(promtool(exporter.render())).toEqual({ status: 0, output: '' })
    }
    items.push({ text: createStabilityExporter().render('openmetrics'), format: 'openmetrics' })
    const verdicts = pythonParse(items)
    // 23 families; 14 windows × (17 window families + 11 buckets, a sum and a count) and the pushed one
    // (17 families, no histogram, no switch yet: 16) + 5 exporter samples.
    expect(verdicts[0]).toEqual({ ok: true, families: 23, samples: 14 * (17 + 13) + 16 + 5 })
    expect(verdicts[1]).toEqual(verdicts[0])
    for (const v of verdicts) expect(v.ok, JSON.stringify(v)).toBe(true)
    expect(verdicts.at(-1)).toEqual({ ok: true, families: 23, samples: 5 })
  })

  it('parses to the same samples as the text format (property, hostile ids)', () => {
    const id = fc.oneof(fc.string({ minLength: 1, maxLength: 16 }), fc.constantFrom(...HOSTILE)).filter((s) => windowIdProblem(s) === null)
    const items: { text: string; format: 'prometheus' | 'openmetrics' }[] = []
    fc.assert(
      fc.property(fc.uniqueArray(id, { maxLength: 10 }), fc.integer({ min: 1, max: 30 }), (ids, rounds) => {
        const exporter = createStabilityExporter({ constLabels: { service: 'fab' } })
        exporter.track(busy(ids, rounds))
        const om = exporter.render('openmetrics')
        const text = exporter.render()
        const a = parseExposition(text)
        const b = parseExposition(om.replace(/\n# UNIT [^\n]*/g, '').replace(/^(# TYPE \w+) unknown$/gm, '$1 untyped').replace(/^# (HELP|TYPE) (\w+?)(?= )/gm, (m, kind: string, name: string) => `# ${kind} ${FAMILIES.some((f) => f.type === 'counter' && `atlas_${f.suffix}` === `${name}_total`) ? `${name}_total` : name}`))
        expect(b).toEqual(a)
        items.push({ text: om, format: 'openmetrics' }, { text, format: 'prometheus' })
      }),
      { numRuns: 40 },
    )
    for (const v of pythonParse(items)) expect(v.ok, JSON.stringify(v)).toBe(true)
  })
})

describe('constant labels', () => {
  it('come after the series’ own labels, on every series', () => {
    const exporter = createStabilityExporter({ constLabels: { service: 'fab', zone: 'a"1' } })
    exporter.track(busy(['global']))
    const text = exporter.render()
    expect(text).toContain('\natlas_stable_ticks{window_id="global",service="fab",zone="a\\"1"} ')
    expect(text).toContain('\natlas_windows{service="fab",zone="a\\"1"} 1\n')
    expect(text).toContain('\natlas_windows_rejected_total{reason="capacity",service="fab",zone="a\\"1"} 0\n')
    for (const [, family] of parseExposition(text)) for (const s of family.samples) expect(s.labels.service).toBe('fab')
  })

  it('are validated: names, reserved names, values', () => {
    expect(() => createStabilityExporter({ constLabels: { 'bad-name': 'x' } })).toThrow(/option "constLabels" has an invalid label name "bad-name"/)
    expect(() => createStabilityExporter({ constLabels: { __name__: 'x' } })).toThrow(/invalid label name "__name__"/)
    expect(() => createStabilityExporter({ constLabels: { window_id: 'x' } })).toThrow(/may not set "window_id"/)
    expect(() => createStabilityExporter({ constLabels: { zone: 5 } as never })).toThrow(/"constLabels.zone" must be a string; got number/)
    expect(() => createStabilityExporter({ constLabels: 'x' as never })).toThrow(RangeError)
  })

  it('refuses `le` and `quantile`, which promtool rejects on gauges and counters', () => {
    for (const name of ['le', 'quantile']) {
      expect(() => createStabilityExporter({ constLabels: { [name]: '1' } })).toThrow(new RegExp(`may not set "${name}": it is reserved for histograms and summaries`))
      // What the refusal prevents: the same label on the exporter's families, as promtool sees it.
      const text = createStabilityExporter().render().replace(/\n(atlas_windows) /, `\n$1{${name}="1"} `)
      expect(promtool(text).output).toMatch(new RegExp(`atlas_windows non-(histogram|summary) metrics should not have "${name}" label`))
    }
  })
})

describe('options', () => {
  it('refuses bad options with a RangeError naming them', () => {
    expect(() => createStabilityExporter({ maxWindows: 0 })).toThrow(/"maxWindows" must be an integer in \[1, 1000000\]; got 0/)
    expect(() => createStabilityExporter(null as never)).toThrow(/options must be an object/)
    expect(() => createStabilityExporter({ registry: {} } as never)).toThrow(/option "registry" belongs to the prom-client adapter/)
    expect(() => createStabilityExporter({ colour: 'red' } as never)).toThrow(/unknown option "colour"/)
    expect(() => createStabilityExporter().render('xml' as never)).toThrow(/format must be "prometheus" or "openmetrics"; got "xml"/)
    expect(() => createStabilityExporter().track({} as never)).toThrow(/expected a StabilityWindows registry/)
    expect(() => createStabilityExporter().track('w', {} as never)).toThrow(/"tracker" must be a StabilityTracker/)
  })
})

describe('another copy of @auris/stability-core', () => {
  it('tracks its registries and trackers by the cross-copy kind tag, where instanceof fails', async () => {
    // A second installed copy of core: the same built code under another path is another module, with other classes.
    const dir = mkdtempSync(join(tmpdir(), 'auris-core-copy-'))
    try {
      cpSync(fileURLToPath(new URL('../../stability-core/dist', import.meta.url)), join(dir, 'dist'), { recursive: true })
      const copy = (await import(pathToFileURL(join(dir, 'dist', 'index.js')).href)) as typeof Core
      const windows = new copy.StabilityWindows({ clock: () => 0 })
      windows.tick('other', 0.4, true)
      expect(windows instanceof StabilityWindows).toBe(false)
      const exporter = createStabilityExporter()
      exporter.track(windows)
      exporter.track('single', new copy.StabilityTracker(), new copy.Hysteresis())
      const text = await exporter.metrics()
      expect(text).toContain('\natlas_degradation_count_total{window_id="other"} 1\n')
      expect(text).toContain('\natlas_hyst_effective_mode{window_id="single"} 2\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('scrapes of any size', () => {
  it('renders in slices that yield to the event loop, with the same bytes as one pass', async () => {
    const exporter = createStabilityExporter()
    const ids = Array.from({ length: 3000 }, (_, i) => `window-${String(i)}`)
    exporter.track(busy(ids, 3))
    const whole = exporter.renderBytes()
    const chunks: Uint8Array[] = []
    for await (const chunk of exporter.expose()) chunks.push(chunk)
    // Chunks are handed out once full: each at least CHUNK_BYTES, at most one line more.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length >= CHUNK_BYTES && chunk.length < CHUNK_BYTES + 200).toBe(true)
    expect(chunks.length).toBe(Math.floor(whole.length / CHUNK_BYTES) + (whole.length % CHUNK_BYTES === 0 ? 0 : 1))
    expect(Buffer.concat(chunks).equals(Buffer.from(whole))).toBe(true)
    expect(await exporter.metrics()).toBe(new TextDecoder().decode(whole))
    expect(Buffer.from(await exporter.metricsBody()).equals(Buffer.from(whole))).toBe(true)
    // A small exposition comes as a string.
    expect(typeof (await createStabilityExporter().metricsBody())).toBe('string')
  })

  it('stops rendering when the consumer stops, and keeps only one chunk of buffer after a large scrape', async () => {
    const exporter = createStabilityExporter()
    exporter.track(busy(Array.from({ length: 20_000 }, (_, i) => `w${String(i)}`), 1))
    let n = 0
    for await (const _chunk of exporter.expose()) if (++n === 2) break
    expect(n).toBe(2)
    expect(exporter.render().length).toBeGreaterThan(20 * CHUNK_BYTES)
    // The scrape was ~20 MB: the exporter keeps one chunk (plus room for a line), not the peak.
    expect(exporter.retainedBytes).toBe(CHUNK_BYTES + 8 * 1024)
  })

  it('serves 1,000,000 windows as bytes, past the longest string, without throwing', async () => {
    const exporter = createStabilityExporter({ maxWindows: 1_000_000 })
    const tracker = new StabilityTracker({ clock: () => 0 })
    tracker.tick(0.9)
    const long = 'w'.repeat(100)
    for (let i = 0; i < 1_000_000; i++) exporter.update(`${long}${String(i)}`, tracker)
    let bytes = 0
    let chunks = 0
    for await (const chunk of exporter.expose()) {
      bytes += chunk.length
      chunks++
    }
    // Nine tracker families per window, each line over 120 bytes: well past 2^29 characters.
    expect(bytes).toBeGreaterThan(0x1fffffe8)
    expect(chunks).toBeLessThanOrEqual(Math.ceil(bytes / CHUNK_BYTES))
    expect(chunks).toBeGreaterThanOrEqual(Math.floor(bytes / (CHUNK_BYTES + 300)))
  }, 120_000)
})
