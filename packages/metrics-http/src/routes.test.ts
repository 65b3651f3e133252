import { serve, type ServerType } from '@hono/node-server'
import { StabilityWindows } from '@auris/stability-core'
import { createStabilityExporter } from '@auris/prom-exporter'
import { Hono } from 'hono'
import { Counter, Registry } from 'prom-client'
import { request as httpRequest } from 'node:http'
import { gunzipSync, inflateSync } from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { metricsRoutes, type MetricsRoutesOptions } from './routes.js'
import type { MetricsSource } from './source.js'

const ON = { AURIS_METRICS_EXP: 'on' }
const TEXT = 'text/plain; version=0.0.4; charset=utf-8'

function source(text: string, contentType = TEXT): MetricsSource {
  return { contentType, metrics: () => text }
}

function mounted(options: MetricsRoutesOptions, path = '/metrics/exp'): Hono {
  const app = new Hono()
  app.route(path, metricsRoutes({ onError: () => undefined, ...options }))
  return app
}

describe('GET /metrics/exp', () => {
  it('serves the exposition with the source content type and no-store, with or without the trailing slash', async () => {
    const app = mounted({ sources: source('# TYPE a gauge\na 1\n') })
    for (const path of ['/metrics/exp', '/metrics/exp/']) {
      const res = await app.request(path, {}, ON)
      expect(res.status).toBe(200)
      expect(res.headers.get('Content-Type')).toBe(TEXT)
      expect(res.headers.get('Cache-Control')).toBe('no-store')
      expect(await res.text()).toBe('# TYPE a gauge\na 1\n')
    }
  })

  it('answers HEAD with the headers and no body', async () => {
    const res = await mounted({ sources: source('a 1\n') }).request('/metrics/exp', { method: 'HEAD' }, ON)
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe(TEXT)
    expect(await res.text()).toBe('')
  })

  it('serves a real exporter and a user registry side by side', async () => {
    const windows = new StabilityWindows()
    windows.tick('global', 0.4, true)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const user = new Registry()
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [user] }).inc(2)
    const res = await mounted({ sources: [exporter, user] }).request('/metrics/exp', {}, ON)
    const body = await res.text()
    expect(body).toMatch(/^atlas_degradation_count_total\{window_id="global"\} 1$/m)
    expect(body).toMatch(/^app_requests_total 2$/m)
    expect(body.indexOf('atlas_')).toBeLessThan(body.indexOf('app_requests_total'))
  })

  it('adds the newline a source left out, and joins OpenMetrics sources under one # EOF', async () => {
    expect(await (await mounted({ sources: [source('a 1'), source('b 2')] }).request('/metrics/exp', {}, ON)).text()).toBe('a 1\nb 2\n')
    const om = 'application/openmetrics-text; version=1.0.0; charset=utf-8'
    const res = await mounted({ sources: [source('a 1\n# EOF\n', om), source('b 2\n# EOF\n', om)] }).request('/metrics/exp', {}, ON)
    expect(res.headers.get('Content-Type')).toBe(om)
    expect(await res.text()).toBe('a 1\nb 2\n# EOF\n')
  })

  it('answers 503 with the flag named while metrics are off', async () => {
    for (const env of [{}, { AURIS_METRICS_EXP: 'off' }, { AURIS_METRICS_EXP: 'yes' }]) {
      const res = await mounted({ sources: source('a 1\n') }).request('/metrics/exp', {}, env)
      expect(res.status).toBe(503)
      expect(await res.json()).toEqual({ detail: 'Metrics disabled (set AURIS_METRICS_EXP=on to enable)' })
    }
  })

  it('reads the flag per request, from bindings first, then process.env', async () => {
    const app = mounted({ sources: source('a 1\n') })
    const saved = process.env.AURIS_METRICS_EXP
    try {
      process.env.AURIS_METRICS_EXP = 'TRUE'
      expect((await app.request('/metrics/exp')).status).toBe(200)
      process.env.AURIS_METRICS_EXP = 'off'
      expect((await app.request('/metrics/exp')).status).toBe(503)
      expect((await app.request('/metrics/exp', {}, { AURIS_METRICS_EXP: '1' })).status).toBe(200)
    } finally {
      if (saved === undefined) delete process.env.AURIS_METRICS_EXP
      else process.env.AURIS_METRICS_EXP = saved
    }
  })

  it('takes an explicit enabled switch or predicate', async () => {
    expect((await mounted({ sources: source('a\n'), enabled: true }).request('/metrics/exp')).status).toBe(200)
    expect((await mounted({ sources: source('a\n'), enabled: false }).request('/metrics/exp', {}, ON)).status).toBe(503)
    const app = mounted({ sources: source('a\n'), enabled: (c) => c.req.header('X-Allow') === 'yes' })
    expect((await app.request('/metrics/exp', { headers: { 'X-Allow': 'yes' } })).status).toBe(200)
    expect((await app.request('/metrics/exp')).status).toBe(503)
  })

  it('answers 500 without a stack when a source throws or rejects, and recovers at the next scrape', async () => {
    let fail: 'throw' | 'reject' | null = 'throw'
    const onError = vi.fn()
    const flaky: MetricsSource = {
      contentType: TEXT,
      metrics: () => {
        if (fail === 'throw') throw new Error('boom at /srv/app/secret.js:12')
        if (fail === 'reject') return Promise.reject(new TypeError('nope'))
        return 'a 1\n'
      },
    }
    const app = mounted({ sources: flaky, onError })
    for (const mode of ['throw', 'reject'] as const) {
      fail = mode
      const res = await app.request('/metrics/exp', {}, ON)
      expect(res.status).toBe(500)
      const text = await res.text()
      expect(text).toBe('metrics source failed; see the server log\n')
      expect(text).not.toMatch(/secret|at |\.js/)
    }
    expect(onError).toHaveBeenCalledTimes(2)
    fail = null
    expect((await app.request('/metrics/exp', {}, ON)).status).toBe(200)
  })

  it('logs one line to the console by default', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const app = new Hono()
    app.route('/m', metricsRoutes({ sources: { contentType: TEXT, metrics: () => Promise.reject(new Error('line one\nline two')) } }))
    await app.request('/m', {}, ON)
    await app.request('/m', {}, ON)
    const app2 = new Hono()
    app2.route('/m', metricsRoutes({ sources: { contentType: TEXT, metrics: () => Promise.reject(new Error('plain')) } }))
    await app2.request('/m', {}, ON)
    expect(error.mock.calls.map((c) => c[0])).toEqual([
      '[auris] metrics scrape failed: Error: line one',
      '[auris] metrics scrape failed: Error: line one',
      '[auris] metrics scrape failed: Error: plain',
    ])
    error.mockRestore()
  })

  it('answers 504 when a source hangs past timeoutMs', async () => {
    const hang: MetricsSource = { contentType: TEXT, metrics: () => new Promise<string>(() => undefined) }
    const started = Date.now()
    const res = await mounted({ sources: hang, timeoutMs: 50 }).request('/metrics/exp', {}, ON)
    expect(res.status).toBe(504)
    expect(await res.text()).toBe('metrics source did not answer within 50 ms\n')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it.each([
    ['undefined', undefined, 'a value of type undefined'],
    ['a number', 42, 'a value of type number'],
    ['an object', {}, 'a value of type object'],
    ['null', null, 'null'],
    ['an array', ['a'], 'an array'],
    ['text with a NUL', 'a 1\u0000\n', 'text with a NUL character'],
  ])('answers 500 when a source returns %s, and recovers', async (_label, value, what) => {
    let bad = true
    const app = mounted({ sources: { contentType: TEXT, metrics: () => (bad ? value : 'ok 1\n') as string } })
    const res = await app.request('/metrics/exp', {}, ON)
    expect(res.status).toBe(500)
    expect(await res.text()).toBe(`metrics source returned ${what}, not exposition text\n`)
    bad = false
    expect((await app.request('/metrics/exp', {}, ON)).status).toBe(200)
  })

  it('answers 500 when sources mix formats', async () => {
    const res = await mounted({ sources: [source('a\n'), source('b\n# EOF\n', 'application/openmetrics-text; version=1.0.0; charset=utf-8')] }).request('/metrics/exp', {}, ON)
    expect(res.status).toBe(500)
    expect(await res.text()).toMatch(/different formats/)
  })
})

describe('maxAgeMs', () => {
  it('serves one render to the scrapes of maxAgeMs, and never caches a failure', async () => {
    let renders = 0
    let fail = false
    const counting: MetricsSource = {
      contentType: TEXT,
      metrics: () => {
        renders++
        if (fail) throw new Error('down')
        return `renders ${String(renders)}\n`
      },
    }
    const app = mounted({ sources: counting, maxAgeMs: 60_000 })
    const bodies = await Promise.all([1, 2, 3].map(async () => (await app.request('/metrics/exp', {}, ON)).text()))
    expect(bodies).toEqual(['renders 1\n', 'renders 1\n', 'renders 1\n'])
    expect(renders).toBe(1)
    const fresh = mounted({ sources: counting })
    expect(await (await fresh.request('/metrics/exp', {}, ON)).text()).toBe('renders 2\n')
    expect(await (await fresh.request('/metrics/exp', {}, ON)).text()).toBe('renders 3\n')
    fail = true
    const failing = mounted({ sources: counting, maxAgeMs: 60_000 })
    expect((await failing.request('/metrics/exp', {}, ON)).status).toBe(500)
    fail = false
    expect((await failing.request('/metrics/exp', {}, ON)).status).toBe(200)
  })

  it('ages the cache with a monotonic clock: a wall clock stepped back an hour does not keep a stale body', async () => {
    let renders = 0
    const app = mounted({ sources: { contentType: TEXT, metrics: () => `r ${String(++renders)}\n` }, maxAgeMs: 20 })
    const realNow = Date.now.bind(Date)
    const spy = vi.spyOn(Date, 'now')
    try {
      spy.mockImplementation(() => realNow())
      expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
      // NTP steps the wall clock back one hour; 40 ms of real time pass.
      spy.mockImplementation(() => realNow() - 3_600_000)
      await new Promise((resolve) => setTimeout(resolve, 40))
      expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 2\n')
    } finally {
      spy.mockRestore()
    }
  })

  it('takes an injected clock, and serves the cache exactly up to maxAgeMs of it', async () => {
    let renders = 0
    let now = 1_000
    const app = mounted({ sources: { contentType: TEXT, metrics: () => `r ${String(++renders)}\n` }, maxAgeMs: 500, clock: () => now })
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
    now = 1_500
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
    now = 1_501
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 2\n')
    now = 0
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 3\n')
    expect(() => metricsRoutes({ sources: source('a'), clock: 5 as unknown as () => number })).toThrow('metricsRoutes: option "clock" must be a function; got 5')
  })

  it('ages the cache from when a render finished, so a render slower than maxAgeMs is still shared', async () => {
    let renders = 0
    let now = 0
    // Each render takes 300 ms of the clock, three times maxAgeMs.
    const slow = { contentType: TEXT, metrics: () => { now += 300; return `r ${String(++renders)}\n` } }
    const app = mounted({ sources: slow, maxAgeMs: 100, clock: () => now })
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
    // The scrapes queued behind the render arrive as it finishes: they get its body.
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
    now += 100
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
    now += 1
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 2\n')
    expect(renders).toBe(2)
  })

  it('shares a render in flight with every scrape that arrives meanwhile, however long it takes', async () => {
    let renders = 0
    let now = 0
    const pending: ((text: string) => void)[] = []
    const manual = { contentType: TEXT, metrics: () => new Promise<string>((resolve) => { renders++; pending.push(resolve) }) }
    const app = mounted({ sources: manual, maxAgeMs: 100, clock: () => now })
    const first = app.request('/metrics/exp', {}, ON)
    await new Promise((resolve) => setTimeout(resolve, 5))
    now = 5_000
    const second = app.request('/metrics/exp', {}, ON)
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(renders).toBe(1)
    pending[0]?.('r 1\n')
    expect([await (await first).text(), await (await second).text()]).toEqual(['r 1\n', 'r 1\n'])
    expect(renders).toBe(1)
  })

  it('serves every scrape, uncached, while an injected clock throws', async () => {
    let renders = 0
    const app = mounted({ sources: { contentType: TEXT, metrics: () => `r ${String(++renders)}\n` }, maxAgeMs: 1000, clock: () => { throw new Error('no clock') } })
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 1\n')
    await new Promise((resolve) => setTimeout(resolve, 1))
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 2\n')
  })

  it('renders again once the cached body is older than maxAgeMs', async () => {
    let renders = 0
    const app = mounted({ sources: { contentType: TEXT, metrics: () => `r ${String(++renders)}\n` }, maxAgeMs: 20 })
    await app.request('/metrics/exp', {}, ON)
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(await (await app.request('/metrics/exp', {}, ON)).text()).toBe('r 2\n')
  })
})

describe('compression', () => {
  it('gzips a large body when the scraper asks, and not a small one', async () => {
    const big = 'x_metric{window_id="w"} 1\n'.repeat(200)
    const app = mounted({ sources: source(big) })
    const res = await app.request('/metrics/exp', { headers: { 'Accept-Encoding': 'gzip' } }, ON)
    expect(res.headers.get('Content-Encoding')).toBe('gzip')
    expect(gunzipSync(Buffer.from(await res.arrayBuffer())).toString()).toBe(big)
    const small = await mounted({ sources: source('a 1\n') }).request('/metrics/exp', { headers: { 'Accept-Encoding': 'gzip' } }, ON)
    expect(small.headers.get('Content-Encoding')).toBeNull()
    const plain = await app.request('/metrics/exp', {}, ON)
    expect(plain.headers.get('Content-Encoding')).toBeNull()
    const off = await mounted({ sources: source(big), compressThreshold: false }).request('/metrics/exp', { headers: { 'Accept-Encoding': 'gzip' } }, ON)
    expect(off.headers.get('Content-Encoding')).toBeNull()
  })

  it('follows the q-values of Accept-Encoding: q=0 refuses an encoding', async () => {
    const big = 'x_metric{window_id="w"} 1\n'.repeat(200)
    const app = mounted({ sources: source(big) })
    const cases: [string, string | null][] = [
      ['gzip;q=0', null],
      ['gzip;q=0, deflate;q=0', null],
      ['identity', null],
      ['br', null],
      ['deflate', 'deflate'],
      ['gzip;q=0, deflate', 'deflate'],
      ['deflate;q=0.5, gzip', 'gzip'],
      ['gzip, deflate', 'gzip'],
    ]
    for (const [accept, encoding] of cases) {
      const res = await app.request('/metrics/exp', { headers: { 'Accept-Encoding': accept } }, ON)
      expect(res.headers.get('Content-Encoding'), accept).toBe(encoding)
      const bytes = Buffer.from(await res.arrayBuffer())
      expect(encoding === 'gzip' ? gunzipSync(bytes).toString() : encoding === 'deflate' ? inflateSync(bytes).toString() : bytes.toString(), accept).toBe(big)
    }
  })
})

describe('GET /metrics/exp/health', () => {
  it('reports the flag and where the routes are mounted', async () => {
    const res = await mounted({ sources: source('a\n') }).request('/metrics/exp/health', {}, { AURIS_METRICS_EXP: 'On' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'On', endpoint: '/metrics/exp' })
    const other = await mounted({ sources: source('a\n') }, '/ops/metrics').request('/ops/metrics/health', {}, ON)
    expect(await other.json()).toMatchObject({ endpoint: '/ops/metrics' })
  })

  it('reports disabled with a null endpoint', async () => {
    const res = await mounted({ sources: source('a\n') }).request('/metrics/exp/health', {}, { AURIS_METRICS_EXP: 'off' })
    expect(await res.json()).toEqual({ status: 'disabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'off', endpoint: null })
    const unset = await mounted({ sources: source('a\n') }).request('/metrics/exp/health', {}, {})
    expect(await unset.json()).toMatchObject({ flag_value: null })
  })

  it('reports the root when served unmounted', async () => {
    const res = await metricsRoutes({ sources: source('a\n'), enabled: true }).request('/health')
    expect(await res.json()).toMatchObject({ endpoint: '/' })
  })
})

describe('auth', () => {
  const bearer = mounted({ sources: source('secret_metric 1\n'), auth: { bearerToken: 's3cret-token' } })
  const basic = mounted({ sources: source('secret_metric 1\n'), auth: { username: 'prom', password: 'pä55' } })
  const basicHeader = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

  it('accepts the right bearer token', async () => {
    const res = await bearer.request('/metrics/exp', { headers: { Authorization: 'Bearer s3cret-token' } }, ON)
    expect(res.status).toBe(200)
  })

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['a wrong token', 'Bearer wrong'],
    ['a prefix of the token', 'Bearer s3cret'],
    ['another scheme', 'Basic czNjcmV0LXRva2Vu'],
    ['an over-long token', `Bearer ${'a'.repeat(10_000)}`],
    ['a malformed header', 'Bearer '],
  ])('refuses %s with 401, a challenge and no metrics', async (_label, header) => {
    const res = await bearer.request('/metrics/exp', header === undefined ? {} : { headers: { Authorization: header } }, ON)
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="metrics"')
    expect(await res.text()).not.toMatch(/secret_metric/)
  })

  it('accepts the right basic credentials, unicode included', async () => {
    const res = await basic.request('/metrics/exp', { headers: { Authorization: basicHeader('prom', 'pä55') } }, ON)
    expect(res.status).toBe(200)
  })

  it.each([
    ['no header', undefined],
    ['a wrong password', basicHeader('prom', 'nope')],
    ['a wrong user', basicHeader('other', 'pä55')],
    ['no colon', `Basic ${Buffer.from('prompä55').toString('base64')}`],
    ['broken base64', 'Basic %%%'],
    ['invalid UTF-8', `Basic ${Buffer.from([0x70, 0x3a, 0xff]).toString('base64')}`],
    ['a bearer token', 'Bearer pä55'],
  ])('refuses basic auth with %s', async (_label, header) => {
    const res = await basic.request('/metrics/exp', header === undefined ? {} : { headers: { Authorization: header } }, ON)
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Basic realm="metrics", charset="UTF-8"')
  })

  it('guards /health too, unless publicHealth', async () => {
    expect((await bearer.request('/metrics/exp/health', {}, ON)).status).toBe(401)
    const open = mounted({ sources: source('a\n'), auth: { bearerToken: 't' }, publicHealth: true })
    expect((await open.request('/metrics/exp/health', {}, ON)).status).toBe(200)
    expect((await open.request('/metrics/exp', {}, ON)).status).toBe(401)
  })

  it('takes credentials per request from a function (Worker bindings)', async () => {
    const app = mounted({ sources: source('m 1\n'), auth: (c) => ({ bearerToken: String((c.env as Record<string, unknown>).TOKEN) }) })
    expect((await app.request('/metrics/exp', { headers: { Authorization: 'Bearer t1' } }, { ...ON, TOKEN: 't1' })).status).toBe(200)
    expect((await app.request('/metrics/exp', { headers: { Authorization: 'Bearer t1' } }, { ...ON, TOKEN: 't2' })).status).toBe(401)
    expect((await app.request('/metrics/exp', { headers: { Authorization: 'Bearer t2' } }, { ...ON, TOKEN: 't2' })).status).toBe(200)
    const broken = mounted({ sources: source('m 1\n'), auth: () => ({ bearerToken: '' }) })
    const res = await broken.request('/metrics/exp', { headers: { Authorization: 'Bearer x' } }, ON)
    expect(res.status).toBe(500)
    expect(await res.text()).toBe('metrics auth is misconfigured; see the server log\n')
  })

  it('refuses before saying whether metrics are on', async () => {
    expect((await bearer.request('/metrics/exp', {}, {})).status).toBe(401)
  })
})

describe('options', () => {
  it.each([
    ['missing sources', {}, /^metricsRoutes: option "sources" is required/],
    ['no sources', { sources: [] }, /at least one source/],
    ['a non-source', { sources: [{}] }, /sources\[0\] is not a metrics source/],
    ['a zero timeout', { sources: source('a'), timeoutMs: 0 }, /"timeoutMs" must be a number in \(0, 600000\]; got 0/],
    ['a negative threshold', { sources: source('a'), compressThreshold: -1 }, /"compressThreshold" must be an integer >= 0 or false/],
    ['a bad enabled', { sources: source('a'), enabled: 'yes' }, /"enabled" must be a boolean or a function/],
    ['a negative maxAgeMs', { sources: source('a'), maxAgeMs: -1 }, /"maxAgeMs" must be a number in \[0, 3600000\]; got -1/],
    ['an empty token', { sources: source('a'), auth: { bearerToken: '' } }, /"auth.bearerToken" must be a non-empty string/],
    ['a user with a colon', { sources: source('a'), auth: { username: 'a:b', password: 'x' } }, /"auth.username" must be a non-empty string without ":"/],
    ['an empty password', { sources: source('a'), auth: { username: 'a', password: '' } }, /"auth.password" must be a non-empty string/],
    ['auth that is not an object', { sources: source('a'), auth: 'token' }, /"auth" must be/],
  ])('rejects %s', (_label, options, message) => {
    expect(() => metricsRoutes(options as unknown as MetricsRoutesOptions)).toThrow(message)
  })

  it('rejects a missing options object', () => {
    expect(() => metricsRoutes(undefined as unknown as MetricsRoutesOptions)).toThrow(/options must be an object/)
  })
})

describe('a real @hono/node-server', () => {
  let server: ServerType | undefined
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      if (server === undefined) resolve()
      else
        server.close(() => {
          resolve()
        })
    })
    server = undefined
  })

  /** One raw HTTP request, with exactly the headers given (fetch would add Accept-Encoding). */
  function raw(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
        })
      })
      req.on('error', reject)
      req.end()
    })
  }

  async function listen(app: Hono): Promise<number> {
    return new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve(info.port)
      })
    })
  }

  it('answers HEAD with the Content-Length of GET, for short, long, non-ASCII and byte bodies', async () => {
    const long = `# HELP x_metric Größe in µs.\n${'x_metric{window_id="ä"} 1\n'.repeat(400)}`
    const bytes = new TextEncoder().encode(long)
    const app = new Hono()
    app.route('/short', metricsRoutes({ sources: source('a 1\n'), enabled: true }))
    app.route('/long', metricsRoutes({ sources: source(long), enabled: true }))
    app.route('/bytes', metricsRoutes({ sources: { contentType: TEXT, metrics: () => long, metricsBody: () => bytes }, enabled: true }))
    app.route('/uncompressed', metricsRoutes({ sources: source(long), enabled: true, compressThreshold: false }))
    const port = await listen(app)
    const expected: Record<string, number> = { '/short': 4, '/long': bytes.byteLength, '/bytes': bytes.byteLength, '/uncompressed': bytes.byteLength }
    for (const path of ['/short', '/short/', '/long', '/long/', '/bytes', '/uncompressed']) {
      const get = await raw(port, 'GET', path)
      const head = await raw(port, 'HEAD', path)
      const length = expected[path.replace(/\/$/, '')] as number
      expect(get.status, path).toBe(200)
      expect(get.body.length, path).toBe(length)
      expect(get.headers['content-length'], path).toBe(String(length))
      expect(head.status, path).toBe(200)
      expect(head.headers['content-length'], path).toBe(String(length))
      expect(head.headers['content-type'], path).toBe(TEXT)
      expect(head.body.length, path).toBe(0)
    }
  })

  it('serves a scrape over HTTP on an ephemeral port', async () => {
    const windows = new StabilityWindows()
    windows.tick('global', 0.9)
    windows.tick('global', 0.4, true)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const app = new Hono()
    app.route('/metrics/exp', metricsRoutes({ sources: exporter, enabled: true }))
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve(info.port)
      })
    })
    const res = await fetch(`http://127.0.0.1:${String(port)}/metrics/exp`, { headers: { 'Accept-Encoding': 'gzip' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(TEXT)
    const body = await res.text()
    expect(body).toMatch(/^atlas_degradation_count_total\{window_id="global"\} 1$/m)
    const health = await (await fetch(`http://127.0.0.1:${String(port)}/metrics/exp/health`)).json()
    expect(health).toMatchObject({ status: 'enabled', endpoint: '/metrics/exp' })
  })
})
