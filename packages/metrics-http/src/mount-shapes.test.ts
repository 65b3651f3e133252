import { StabilityWindows } from '@auris/stability-core'
import fc from 'fast-check'
import { Hono } from 'hono'
import { Hono as OtherHono } from 'hono-min'
import { describe, expect, it } from 'vitest'
import type { MetricsAuth } from './auth.js'
import { metricsRoutes, type MetricsRoutesOptions } from './routes.js'

/**
 * The routes mounted at every shape a user can give them, with the probe
 * routes public or not: whatever the path and the method, no byte of the
 * metrics leaves without credentials, and only the probe routes themselves
 * can be public.
 */

const ON = { AURIS_METRICS_EXP: 'on' }
const TEXT = 'text/plain; version=0.0.4; charset=utf-8'
/** A sample no other answer can contain by accident. */
const SECRET_SAMPLE = 'zz_secret_metric_sample 424242'
const EXPOSITION = `# TYPE zz_secret_metric_sample gauge\n${SECRET_SAMPLE}\n`
const TOKEN = 'scrape-token-8Jq'
const BASIC = { username: 'prometheus', password: 'pässwörd' }
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const

/** What the tests need of an app, whatever its base path generic. */
type App = Pick<Hono, 'request'>

/**
 * The hono the app is built with: the one the routes import, and (in the main run) another copy
 * and release (`hono-min`, while the routes import the workspace's hono), as when a CommonJS app's
 * `require('hono')` loads hono's CommonJS build beside the ES module build the routes import.
 * The oldest-release run resolves both to the same copy, so it has the first only.
 */
const APP_HONOS: [string, typeof Hono][] = [['the same copy of hono', Hono]]
if (process.env.AURIS_HONO_UNDER_TEST !== 'min') APP_HONOS.push(['another copy and release of hono', OtherHono as unknown as typeof Hono])

interface Shape {
  name: string
  /** Builds the app around the routes, with the app's hono `H`. */
  mount: (routes: Hono, H: typeof Hono) => App
  /** The metrics path as requested (the mount point). */
  metrics: string
}

const SHAPES: Shape[] = [
  { name: 'root', mount: (r, H) => new H().route('/', r), metrics: '/' },
  { name: 'unmounted', mount: (r) => r, metrics: '/' },
  { name: '/x', mount: (r, H) => new H().route('/x', r), metrics: '/x' },
  { name: '/x/ (mount path with a trailing slash)', mount: (r, H) => new H().route('/x/', r), metrics: '/x' },
  { name: '/x/health', mount: (r, H) => new H().route('/x/health', r), metrics: '/x/health' },
  { name: '/health', mount: (r, H) => new H().route('/health', r), metrics: '/health' },
  { name: '/ops/health/health', mount: (r, H) => new H().route('/ops/health/health', r), metrics: '/ops/health/health' },
  { name: 'nested /a + /b', mount: (r, H) => new H().route('/a', new H().route('/b', r)), metrics: '/a/b' },
  { name: 'nested /ops + /health', mount: (r, H) => new H().route('/ops', new H().route('/health', r)), metrics: '/ops/health' },
  { name: 'nested /health + /health', mount: (r, H) => new H().route('/health', new H().route('/health', r)), metrics: '/health/health' },
  { name: 'basePath /api + /health', mount: (r, H) => new H().basePath('/api').route('/health', r), metrics: '/api/health' },
  { name: 'param /:tenant/health', mount: (r, H) => new H().route('/:tenant/health', r), metrics: '/t1/health' },
  { name: 'regex param /:tenant{t[0-9]+}/health', mount: (r, H) => new H().route('/:tenant{t[0-9]+}/health', r), metrics: '/t1/health' },
  { name: 'regex param spanning slashes /:path{.+}/m', mount: (r, H) => new H().route('/:path{.+}/m', r), metrics: '/a/b/m' },
  { name: 'wildcard /a/*/health', mount: (r, H) => new H().route('/a/*/health', r), metrics: '/a/z/health' },
  { name: 'nested params /:org/:tenant + /health', mount: (r, H) => new H().route('/:org/:tenant', new H().route('/health', r)), metrics: '/o1/t1/health' },
]

type AuthKind = 'bearer' | 'basic' | 'per-request bearer'
const AUTHS: [AuthKind, MetricsRoutesOptions['auth'], string][] = [
  ['bearer', { bearerToken: TOKEN }, `Bearer ${TOKEN}`],
  ['basic', BASIC, `Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString('base64')}`],
  ['per-request bearer', (): MetricsAuth => ({ bearerToken: TOKEN }), `Bearer ${TOKEN}`],
]

function build(H: typeof Hono, shape: Shape, auth: MetricsRoutesOptions['auth'], publicHealth: boolean): App {
  const windows = new StabilityWindows()
  windows.tick('global', 0.9)
  return shape.mount(
    metricsRoutes({
      sources: { contentType: TEXT, metrics: () => EXPOSITION },
      ...(auth === undefined ? {} : { auth }),
      publicHealth,
      readiness: { windows, tickMs: 100 },
      compressThreshold: false,
      onError: () => undefined,
    }),
    H,
  )
}

/** `path` below the mount, for a mount at `base`. */
function under(base: string, rest: string): string {
  return base === '/' ? rest : `${base}${rest}`
}

function probePaths(base: string): string[] {
  return ['/health', '/health/', '/ready', '/ready/', '/live', '/live/'].map((p) => under(base, p))
}

const PROBE_STATUS: Record<string, string> = { health: 'enabled', ready: 'ready', live: 'alive' }

/** Which probe route a path of {@link probePaths} is. */
function probeName(path: string): string {
  return (/\/(health|ready|live)\/?$/.exec(path) as RegExpExecArray)[1] as string
}

describe.each(APP_HONOS)('the app on %s', (_h, H) => {
  describe.each(SHAPES)('mounted at $name', (shape) => {
    const metricsPaths = shape.metrics === '/' ? ['/'] : [shape.metrics, `${shape.metrics}/`]

    describe.each(AUTHS)('with %s auth', (_kind, auth, credential) => {
      for (const publicHealth of [false, true]) {
        it(`publicHealth ${String(publicHealth)}: the metrics need credentials for every method, and are served with them`, async () => {
          const app = build(H, shape, auth, publicHealth)
          for (const path of metricsPaths) {
            for (const method of METHODS) {
              for (const header of [undefined, 'Bearer wrong-token', 'Basic d3Jvbmc6d3Jvbmc=']) {
                const res = await app.request(path, { method, ...(header === undefined ? {} : { headers: { Authorization: header } }) }, ON)
                const body = await res.text()
                expect(res.status, `${method} ${path} ${String(header)}`).toBe(401)
                expect(body, `${method} ${path}`).not.toContain('zz_secret')
              }
              const res = await app.request(path, { method, headers: { Authorization: credential } }, ON)
              const body = await res.text()
              if (method === 'GET') {
                expect(res.status, `${method} ${path}`).toBe(200)
                expect(body).toBe(EXPOSITION)
              } else if (method === 'HEAD') {
                expect(res.status).toBe(200)
                expect(res.headers.get('Content-Length')).toBe(String(EXPOSITION.length))
                expect(body).toBe('')
              } else {
                expect(res.status, `${method} ${path}`).toBe(405)
                expect(res.headers.get('Allow')).toBe('GET, HEAD')
                expect(body).toBe('Method Not Allowed\n')
              }
            }
          }
        })

        it(`publicHealth ${String(publicHealth)}: the probe routes are public exactly when asked, and never carry the metrics`, async () => {
          const app = build(H, shape, auth, publicHealth)
          for (const path of probePaths(shape.metrics)) {
            for (const method of METHODS) {
              const res = await app.request(path, { method }, ON)
              const body = await res.text()
              expect(body).not.toContain('zz_secret')
              const expected = !publicHealth ? 401 : method === 'GET' || method === 'HEAD' ? 200 : 405
              expect(res.status, `${method} ${path}`).toBe(expected)
              if (expected === 405) expect(res.headers.get('Allow')).toBe('GET, HEAD')
            }
            const authorised = await app.request(path, { headers: { Authorization: credential } }, ON)
            expect(authorised.status, path).toBe(200)
            const json = (await authorised.json()) as { status: string; endpoint?: string }
            expect(json.status, path).toBe(PROBE_STATUS[probeName(path)])
            if (probeName(path) === 'health') expect(json.endpoint).toBe(shape.metrics)
          }
        })
      }

      it('leaks no metrics byte without credentials on any path or method (property)', async () => {
        const apps = [build(H, shape, auth, false), build(H, shape, auth, true)]
        const segment = fc.constantFrom('health', 'HEALTH', 'ready', 'live', 'x', 'a', 'b', 'ops', 'api', 't1', 'metrics', '', '..', '%2F', 'health%2F')
        await fc.assert(
          fc.asyncProperty(fc.array(segment, { maxLength: 5 }), fc.boolean(), fc.constantFrom(...METHODS), fc.constantFrom(undefined, 'Bearer wrong', 'Bearer ', 'Basic Og=='), async (segments, slash, method, header) => {
            const path = `${shape.metrics === '/' ? '' : shape.metrics}/${segments.join('/')}${slash ? '/' : ''}`
            for (const app of apps) {
              const res = await app.request(path, { method, ...(header === undefined ? {} : { headers: { Authorization: header } }) }, ON)
              const body = await res.text()
              expect(body, `${method} ${path}`).not.toContain('zz_secret')
              expect(res.headers.get('Content-Type') ?? '', `${method} ${path}`).not.toBe(TEXT)
            }
          }),
          { numRuns: 150 },
        )
      })
    })

    it('without auth: GET and HEAD everywhere, 405 with Allow for the other methods, trailing slashes included', async () => {
      const app = build(H, shape, undefined, false)
      for (const path of [...metricsPaths, ...probePaths(shape.metrics)]) {
        for (const method of METHODS) {
          const res = await app.request(path, { method }, ON)
          const body = await res.text()
          if (method === 'GET') {
            expect(res.status, `${method} ${path}`).toBe(200)
            if (metricsPaths.includes(path)) expect(body).toBe(EXPOSITION)
            else expect(body).not.toContain('zz_secret')
          } else if (method === 'HEAD') {
            expect(res.status, `${method} ${path}`).toBe(200)
            expect(body).toBe('')
          } else {
            expect(res.status, `${method} ${path}`).toBe(405)
            expect(res.headers.get('Allow')).toBe('GET, HEAD')
          }
        }
      }
    })
  })
})

describe('regressions', () => {
  it('routes mounted at /ops/health with publicHealth keep the metrics behind the token', async () => {
    const app = new Hono()
    app.route('/ops/health', metricsRoutes({ sources: { contentType: TEXT, metrics: () => EXPOSITION }, enabled: true, auth: { bearerToken: 'secret' }, publicHealth: true }))
    const res = await app.request('/ops/health')
    expect(res.status).toBe(401)
    expect(await res.text()).toBe('Unauthorized\n')
    const health = await app.request('/ops/health/health')
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: null, endpoint: '/ops/health' })
  })

  it('answers 405 with Allow to POST, PUT, DELETE and OPTIONS on /metrics/exp', async () => {
    const app = new Hono()
    app.route('/metrics/exp', metricsRoutes({ sources: { contentType: TEXT, metrics: () => EXPOSITION } }))
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await app.request('/metrics/exp', { method }, ON)
      expect(res.status, method).toBe(405)
      expect(res.headers.get('Allow'), method).toBe('GET, HEAD')
    }
  })

  it('serves /metrics/exp/health/ like /metrics/exp/health', async () => {
    const app = new Hono()
    app.route('/metrics/exp', metricsRoutes({ sources: { contentType: TEXT, metrics: () => EXPOSITION } }))
    const res = await app.request('/metrics/exp/health/', {}, ON)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'on', endpoint: '/metrics/exp' })
  })
})
