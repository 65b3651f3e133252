import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { FAMILIES, createStabilityExporter } from '@auris/prom-exporter'
import { createStabilityExporter as createOnRegistry } from '@auris/prom-exporter/prom-client'
import { Hono } from 'hono'
import { Counter, Gauge, Registry, type OpenMetricsContentType } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { FamilyConflictError, mergeFamilies } from './merge.js'
import { metricsRoutes, type MetricsRoutesOptions } from './routes.js'
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, checkSources, collect, negotiateFormat, responseBody, type MetricsSource } from './source.js'

const ON = { AURIS_METRICS_EXP: 'on' }
/** What Prometheus 2.x sends. */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

function promtool(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (run.error !== undefined) throw new Error(`promtool could not run (${run.error.message}); install the Debian package "prometheus"`)
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() }
}

/** prometheus_client's OpenMetrics parser (Debian python3-prometheus-client, in the system Python). */
function openMetricsParse(text: string): string {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
  const code = 'import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nprint(len(list(p(sys.stdin.read()))))'
  const run = spawnSync(python, ['-c', code], { input: text, encoding: 'utf8' })
  if (run.error !== undefined) throw new Error(`python3 could not run: ${run.error.message}`)
  return `${run.stdout}${run.stderr}`.trim()
}

function exporterWith(...ids: string[]): ReturnType<typeof createStabilityExporter> {
  const windows = new StabilityWindows({ clock: () => 0 })
  for (const id of ids) windows.tick(id, 0.4, true)
  const exporter = createStabilityExporter()
  exporter.track(windows)
  return exporter
}

/** A sliced render's chunks, one per turn of the event loop's microtasks. */
async function* chunksOf(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array, void, undefined> {
  for (const chunk of chunks) {
    await Promise.resolve()
    yield chunk
  }
}

function mounted(options: MetricsRoutesOptions): Hono {
  const app = new Hono()
  app.route('/metrics/exp', metricsRoutes({ onError: () => undefined, ...options }))
  return app
}

describe('format negotiation', () => {
  it('reads the Accept header: OpenMetrics 1.x when preferred or tied, the text format otherwise', () => {
    expect(negotiateFormat(PROMETHEUS_ACCEPT)).toBe('openmetrics')
    expect(negotiateFormat('application/openmetrics-text')).toBe('openmetrics')
    expect(negotiateFormat('text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5')).toBe('prometheus')
    expect(negotiateFormat('application/openmetrics-text;version=0.0.1')).toBe('prometheus')
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('prometheus')
    expect(negotiateFormat('*/*')).toBe('prometheus')
    expect(negotiateFormat(undefined)).toBe('prometheus')
    expect(negotiateFormat(null)).toBe('prometheus')
    // Media types are case-insensitive.
    expect(negotiateFormat('Application/OpenMetrics-Text; Version=1.0.0')).toBe('openmetrics')
    expect(negotiateFormat('APPLICATION/OPENMETRICS-TEXT;q=0.4,TEXT/PLAIN;q=0.5')).toBe('prometheus')
    // Quoted parameter values, and a bare major version.
    expect(negotiateFormat('application/openmetrics-text;version="1.0.0"')).toBe('openmetrics')
    expect(negotiateFormat('application/openmetrics-text;version=1;q="0.9",text/plain;q=0.5')).toBe('openmetrics')
    expect(negotiateFormat('application/openmetrics-text;version="2.0.0"')).toBe('prometheus')
  })

  it('serves OpenMetrics to a scraper that asks for it, and the text format to every other', async () => {
    const app = mounted({ sources: exporterWith('global', 'a"b') })
    const om = await app.request('/metrics/exp', { headers: { Accept: PROMETHEUS_ACCEPT } }, ON)
    expect(om.status).toBe(200)
    expect(om.headers.get('Content-Type')).toBe(OPENMETRICS_CONTENT_TYPE)
    expect(om.headers.get('Vary')).toBe('Accept')
    const body = await om.text()
    expect(body.endsWith('\n# EOF\n')).toBe(true)
    expect(body).toContain('\natlas_degradation_count_total{window_id="global"} 1\n')
    expect(om.headers.get('Content-Length')).toBe(String(new TextEncoder().encode(body).length))
    expect(openMetricsParse(body)).toBe(String(FAMILIES.length))
    const text = await app.request('/metrics/exp', { headers: { Accept: 'text/plain' } }, ON)
    expect(text.headers.get('Content-Type')).toBe(PROMETHEUS_CONTENT_TYPE)
    expect(promtool(await text.text())).toEqual({ status: 0, output: '' })
  })

  it('falls back to the text format when a source cannot render OpenMetrics', async () => {
    const user = new Registry()
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [user] }).inc(2)
    const res = await mounted({ sources: [exporterWith('global'), user] }).request('/metrics/exp', { headers: { Accept: PROMETHEUS_ACCEPT } }, ON)
    expect(res.headers.get('Content-Type')).toBe(PROMETHEUS_CONTENT_TYPE)
    const body = await res.text()
    expect(body).toMatch(/^app_requests_total 2$/m)
    expect(promtool(body)).toEqual({ status: 0, output: '' })
  })

  it('joins OpenMetrics sources under one # EOF, and prom-client OpenMetrics registries keep their content type', async () => {
    const registry = new Registry<OpenMetricsContentType>()
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    new Gauge({ name: 'app_up', help: 'Up.', registers: [registry] }).set(1)
    const res = await mounted({ sources: [exporterWith('global'), registry] }).request('/metrics/exp', { headers: { Accept: PROMETHEUS_ACCEPT } }, ON)
    expect(res.headers.get('Content-Type')).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
    const body = await res.text()
    expect(body.match(/# EOF/g)).toHaveLength(1)
    expect(openMetricsParse(body)).toBe(String(FAMILIES.length + 1))
  })

  it('serves a text scraper OpenMetrics when a prom-client registry set to OpenMetrics is among the sources (the exporter follows it), never a 500', async () => {
    const registry = new Registry<OpenMetricsContentType>()
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    new Counter({ name: 'app_requests', help: 'Requests.', registers: [registry] }).inc(3)
    const app = mounted({ sources: [exporterWith('global'), registry] })
    for (const headers of [{}, { Accept: 'text/plain;version=0.0.4' }, { Accept: '*/*' }]) {
      const res = await app.request('/metrics/exp', { headers }, ON)
      expect(res.status).toBe(200)
      expect(res.headers.get('Content-Type')).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
      const body = await res.text()
      expect(body.match(/# EOF/g)).toHaveLength(1)
      expect(body).toContain('\napp_requests_total 3\n')
      expect(body).toContain('\n# TYPE atlas_degradation_count counter\natlas_degradation_count_total{window_id="global"} 1\n')
      expect(openMetricsParse(body)).toBe(String(FAMILIES.length + 1))
    }
  })
})

describe('sources that share families', () => {
  it('are refused when the routes are built, naming the family', () => {
    const exporter = exporterWith('global')
    expect(() => metricsRoutes({ sources: [exporter, exporter] })).toThrow(/sources\[1\] is sources\[0\] again: it would export every family twice \(e\.g\. "atlas_stability_score"\)/)
    const onRegister = createOnRegistry()
    expect(() => metricsRoutes({ sources: [onRegister, onRegister.registry] })).toThrow(
      /sources\[0\] and sources\[1\] both export the family "atlas_stability_score"/,
    )
    const plain = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => 'a 1\n' }
    expect(() => {
      checkSources([plain, plain])
    }).toThrow(/sources\[1\] is sources\[0\] again: it would export every family twice; list it once/)
    expect(() => {
      checkSources([exporter, plain, new Registry()])
    }).not.toThrow()
  })

  it('are merged under one HELP/TYPE when the overlap appears after the routes were built', async () => {
    const registry = new Registry()
    const exporter = exporterWith('global', 'stream')
    const app = mounted({ sources: [exporter, registry] })
    // Registered after the routes were built: the exporter's families are now in both sources.
    const late = createOnRegistry({ registry })
    const tracker = new StabilityTracker({ clock: () => 0 })
    tracker.tick(0.9)
    late.update('late', tracker)
    const body = await (await app.request('/metrics/exp', {}, ON)).text()
    expect(body.match(/^# HELP atlas_stability_score /gm)).toHaveLength(1)
    expect(body.match(/^atlas_windows /gm)).toHaveLength(1)
    expect(body).toMatch(/^atlas_stable_ticks\{window_id="late"\} 1$/m)
    expect(body).toMatch(/^atlas_stable_ticks\{window_id="stream"\} 0$/m)
    expect(promtool(body)).toEqual({ status: 0, output: '' })
  })

  it('merge keeps the first HELP and series, and refuses two types for one family', () => {
    expect(mergeFamilies(['# HELP a first\n# TYPE a gauge\na{x="}"} 1\n', '# HELP a second\n# TYPE a gauge\na{x="}"} 2\na{x="y"} 3\nb 4\n'], false)).toBe(
      '# HELP a first\n# TYPE a gauge\na{x="}"} 1\na{x="y"} 3\n\nb 4\n',
    )
    expect(mergeFamilies(['# TYPE c counter\n# UNIT c seconds\nc_total 1\n', '# TYPE c counter\n# UNIT c seconds\nc_total 1\n# EOF\n'], true)).toBe('# TYPE c counter\n# UNIT c seconds\nc_total 1\n# EOF\n')
    expect(() => mergeFamilies(['# TYPE a gauge\na 1\n', '# TYPE a counter\na 1\n'], false)).toThrow(FamilyConflictError)
    expect(() => mergeFamilies(['# TYPE a gauge\na 1\n', '# TYPE a counter\na 1\n'], false)).toThrow(/disagree on the type of family "a" \(gauge \/ counter\)/)
  })

  it('answers 500 naming the family when their types conflict', async () => {
    const a = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => '# TYPE x gauge\nx 1\n' }
    const b = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => '# TYPE x counter\nx 1\n' }
    const res = await mounted({ sources: [a, b] }).request('/metrics/exp', {}, ON)
    expect(res.status).toBe(500)
    expect(await res.text()).toMatch(/family "x"/)
  })
})

describe('sliced sources', () => {
  it('stay bytes beside other sources when no family is shared: no string-length limit (a million windows is over 512 MiB)', async () => {
    // A sliced source of 520 MiB (one MiB chunk handed out 520 times: the test holds one), past V8's longest string.
    const line = new TextEncoder().encode('big_bytes 1\n')
    const mib = new Uint8Array(1 << 20)
    for (let at = 0; at + line.length <= mib.length; at += line.length) mib.set(line, at)
    const full = mib.subarray(0, mib.length - (mib.length % line.length))
    const head = new TextEncoder().encode('# HELP big_bytes Bytes.\n# TYPE big_bytes gauge\n')
    const big: MetricsSource = {
      contentType: PROMETHEUS_CONTENT_TYPE,
      formats: ['prometheus'],
      familyNames: ['big_bytes'],
      metrics: () => 'big_bytes 1\n',
      expose: () => chunksOf([head, ...Array.from({ length: 520 }, () => full)]),
    }
    const user = new Registry()
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [user] }).inc(2)
    const tail = await user.metrics()
    const res = await mounted({ sources: [big, user], compressThreshold: false, timeoutMs: 60_000 }).request('/metrics/exp', {}, ON)
    expect(res.status).toBe(200)
    const expected = head.length + 520 * full.length + new TextEncoder().encode(tail).length
    expect(res.headers.get('Content-Length')).toBe(String(expected))
    let received = 0
    let last: Uint8Array = new Uint8Array(0)
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.length
      last = chunk
    }
    expect(received).toBe(expected)
    expect(new TextDecoder().decode(last)).toBe(tail)
  }, 60_000)

  it('joined as bytes give the bytes the text join gives, in both formats', async () => {
    const user = new Registry()
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [user] }).inc(2)
    const om = new Registry<OpenMetricsContentType>()
    om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
    new Gauge({ name: 'app_up', help: 'Up.', registers: [om] }).set(1)
    const exporter = exporterWith('global', 'a"b')
    const text = await (await mounted({ sources: [exporter, user] }).request('/metrics/exp', {}, ON)).text()
    expect(text).toBe(`${exporter.render()}${await user.metrics()}`)
    expect(promtool(text)).toEqual({ status: 0, output: '' })
    const open = await mounted({ sources: [user, exporter] }).request('/metrics/exp', { headers: { Accept: PROMETHEUS_ACCEPT } }, ON)
    expect(await open.text()).toBe(`${await user.metrics()}${exporter.render()}`)
    const both = await mounted({ sources: [exporter, om] }).request('/metrics/exp', { headers: { Accept: PROMETHEUS_ACCEPT } }, ON)
    const body = await both.text()
    expect(body).toBe(`${exporter.render('openmetrics').slice(0, -'# EOF\n'.length)}${await om.metrics()}`)
    expect(both.headers.get('Content-Length')).toBe(String(new TextEncoder().encode(body).length))
    expect(openMetricsParse(body)).toBe(String(FAMILIES.length + 1))
    // A sliced source whose # EOF spans two chunks (and an empty chunk after it).
    const split: MetricsSource = {
      contentType: OPENMETRICS_CONTENT_TYPE,
      formats: ['openmetrics'],
      familyNames: ['split_up'],
      metrics: () => '',
      expose: () => chunksOf(['# TYPE split_up gauge\nsplit_up 1\n# E', 'OF\n', ''].map((piece) => new TextEncoder().encode(piece))),
    }
    const joined = await mounted({ sources: [split, om] }).request('/metrics/exp', { headers: { Accept: PROMETHEUS_ACCEPT } }, ON)
    expect(await joined.text()).toBe(`# TYPE split_up gauge\nsplit_up 1\n${await om.metrics()}`)
  })

  it('serve their chunks as bytes, one or many, and stop rendering on a timeout', async () => {
    const chunk = (s: string): Uint8Array => new TextEncoder().encode(s)
    async function* parts(): AsyncGenerator<Uint8Array> {
      await Promise.resolve()
      yield chunk('a 1\n')
      yield chunk('b 2\n')
    }
    const sliced: MetricsSource = { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => 'never\n', formats: ['prometheus'], expose: () => parts() }
    const out = await collect([sliced], 1000)
    expect(out.length).toBe(8)
    expect(await new Response(responseBody(out.body)).text()).toBe('a 1\nb 2\n')
    // With another source, the chunks are read as text.
    expect((await collect([sliced, { contentType: PROMETHEUS_CONTENT_TYPE, metrics: () => 'c 3\n' }], 1000)).body).toBe('a 1\nb 2\nc 3\n')
    let stopped = false
    let yielded = 0
    async function* slow(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, 5))
          yielded++
          yield chunk('x 1\n')
        }
      } finally {
        stopped = true
      }
    }
    await expect(collect([{ ...sliced, expose: () => slow() }], 50)).rejects.toThrow(/did not answer within 50 ms/)
    // The generator is closed once its pending 5 ms step settles: wait for that, not a fixed time.
    const hasStopped = (): boolean => stopped
    for (const deadline = Date.now() + 10_000; !hasStopped() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5))
    expect(stopped).toBe(true)
    const after = yielded
    await new Promise((r) => setTimeout(r, 30))
    expect(yielded).toBe(after)
    const broken: MetricsSource = {
      ...sliced,
      expose: () => {
        throw new Error('expose broke')
      },
    }
    await expect(collect([broken], 1000)).rejects.toThrow('expose broke')
    const odd: MetricsSource = {
      ...sliced,
      expose: async function* () {
        await Promise.resolve()
        yield 'text' as unknown as Uint8Array
      },
    }
    await expect(collect([odd], 1000)).rejects.toThrow(/a chunk of type string/)
  })

  it('serve 100,000 windows over HTTP in full, and answer 504 on time when timeoutMs is shorter than the render', async () => {
    const windows = new StabilityWindows({ maxWindows: 100_000, clock: () => 0 })
    for (let i = 0; i < 100_000; i++) windows.tick(`window-${String(i)}`, 0.9)
    const exporter = createStabilityExporter({ maxWindows: 100_000 })
    exporter.track(windows)
    const expected = exporter.renderBytes().length
    const fullStarted = Date.now()
    const full = await mounted({ sources: exporter, compressThreshold: false, timeoutMs: 60_000 }).request('/metrics/exp', {}, ON)
    expect(full.status).toBe(200)
    expect(full.headers.get('Content-Length')).toBe(String(expected))
    expect((await full.arrayBuffer()).byteLength).toBe(expected)
    const fullMs = Date.now() - fullStarted
    const started = Date.now()
    const late = await mounted({ sources: exporter, timeoutMs: 20 }).request('/metrics/exp', {}, ON)
    const took = Date.now() - started
    expect(late.status).toBe(504)
    expect(await late.text()).toBe('metrics source did not answer within 20 ms\n')
    // The render yields every few ms, so the timer fires within a slice of its time: far sooner than
    // the whole render (measured above, in the same load), and within 300 ms on an idle machine.
    expect(took).toBeLessThan(Math.max(20 + 300, fullMs / 2))
  }, 60_000)
})
