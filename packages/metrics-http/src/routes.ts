import { FEATURE_FLAGS, functionOption, isFlagOn, monotonicClock, numberOption } from '@auris/stability-core'
import { Hono, type Context, type Next } from 'hono'
import { env, getRuntimeKey } from 'hono/adapter'
import { compress } from 'hono/compress'
import { checkAuth, verifier, type MetricsAuth, type Verify } from './auth.js'
import { FamilyConflictError } from './merge.js'
import { judgeReadiness, resolveReadiness, type ReadinessOptions } from './readiness.js'
import { InvalidTextError, MixedFormatsError, SourceTimeoutError, checkSources, collect, isMetricsSource, negotiateFormat, responseBody, type Collected, type ExpositionFormat, type MetricsSource } from './source.js'

/** The feature flag the routes read by default. */
export const METRICS_FLAG = FEATURE_FLAGS.metrics

/** Options of {@link metricsRoutes}. */
export interface MetricsRoutesOptions {
  /** What to serve: one source or several, concatenated in order. A prom-client `Registry` is a source. */
  sources: MetricsSource | readonly MetricsSource[]
  /**
   * Whether metrics are served. Default: `AURIS_METRICS_EXP` (`on`, `true`,
   * `1`, any case), read per request from the Worker bindings (`c.env`) or
   * the runtime's environment (`env(c)`: `process.env` on Node and Bun,
   * `Deno.env` on Deno).
   */
  enabled?: boolean | ((c: Context) => boolean)
  /**
   * Require a bearer token or basic credentials, for routes reachable from
   * outside. A function is called per request, for secrets that only exist
   * then (Worker bindings: `(c) => ({ bearerToken: c.env.METRICS_TOKEN })`);
   * credentials it returns are checked like static ones, and a request gets a
   * 500 (logged through `onError`) when they are invalid.
   */
  auth?: MetricsAuth | ((c: Context) => MetricsAuth)
  /**
   * Serve the probe routes (`/health`, and `/ready` and `/live` when
   * `readiness` is set) without credentials even when `auth` is set; the
   * metrics stay behind `auth` wherever the routes are mounted. Default false.
   */
  publicHealth?: boolean
  /**
   * Add `GET /ready` (200 or 503 from the stability state of the windows,
   * with per-window detail and `Retry-After` when refusing) and `GET /live`
   * (always 200: it never depends on stability). Default: off.
   */
  readiness?: ReadinessOptions
  /** Longest a scrape may wait for the sources before a 504, in ms. Default 5000 (Prometheus' own scrape timeout is 10 s). */
  timeoutMs?: number
  /**
   * Gzip (or deflate) bodies of at least this many bytes when the scraper
   * accepts it; `false` turns compression off. Default 1024. On Cloudflare
   * Workers the platform compresses responses itself, so the routes leave
   * it to the platform there.
   */
  compressThreshold?: number | false
  /**
   * Serve a body whose render finished at most this many ms ago instead of
   * rendering again; a render in flight is shared with every scrape that
   * arrives meanwhile. Concurrent scrapes then share one render: with many scrapers
   * (or a load test) the latency stays near one render time instead of
   * growing with the queue. Default 0: every scrape renders (Prometheus
   * scrapes every 15 s or so, so a cache below that never serves it stale data
   * twice).
   */
  maxAgeMs?: number
  /**
   * The clock `maxAgeMs` is measured with, in ms. Default `performance.now()`
   * (monotonic): a wall clock stepped back would keep a stale body for as
   * long as the step.
   */
  clock?: () => number
  /** Told about every failed scrape (the response itself says only that the source failed). Default: `console.error`, one line. */
  onError?: (error: unknown, c: Context) => void
}

const DISABLED_DETAIL = `Metrics disabled (set ${METRICS_FLAG}=on to enable)`
/** The only methods the routes answer; the others get 405 with this list. */
const ALLOW = 'GET, HEAD'

/** The flag's raw value for this request: Worker bindings first, then the runtime environment. */
export function readMetricsFlag(c: Context): string | undefined {
  const bindings = c.env as Record<string, unknown> | undefined
  const bound = bindings?.[METRICS_FLAG]
  if (typeof bound === 'string') return bound
  let runtime: Record<string, unknown> | undefined
  try {
    runtime = env(c) as Record<string, unknown> | undefined
  } catch {
    // Deno without --allow-env, or a runtime with no environment: the flag is unset.
    runtime = undefined
  }
  const value = runtime?.[METRICS_FLAG]
  return typeof value === 'string' ? value : undefined
}

const encoder = new TextEncoder()

function utf8Length(text: string): number {
  return encoder.encode(text).length
}

function defaultOnError(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  console.error(`[auris] metrics scrape failed: ${message.split('\n')[0] ?? ''}`)
}

type RouteName = 'metrics' | 'health' | 'ready' | 'live'

/** What the routes read of the request object the app's hono created (see {@link mountPath}). */
interface AppRequest {
  readonly routePath?: unknown
}

/**
 * Where the routes are mounted, as requested: parameters filled in, no trailing slash (but `/`).
 *
 * The app that mounts the routes may run another copy of hono than the one this package imports:
 * a CommonJS app's `require('hono')` is hono's CommonJS build while this ES module imports the ES
 * module build, and a project may hold two hono releases. The `hono/route` helpers read the match
 * result through a symbol private to their own copy, so on the app's context they find nothing
 * (every request was a 500). The path alone cannot tell the mount either (`/x/health` is the health
 * route below `/x` or the metrics mounted at `/x/health`: reading it as the former once served
 * metrics without the token). So the mount is read from what the app's own router matched:
 * `c.req.routePath`, a getter of the request object the app's hono created, is the pattern this
 * dispatcher was registered under there (`<mount>/*`), whichever copy created it. hono marks it
 * deprecated in favour of `hono/route` (which cannot work across copies) but keeps it through 4.x,
 * the peer range; the route tests run against the oldest and the current 4.x release, with the app
 * on the same copy, on another copy, and in a CommonJS process. A CommonJS build of this package
 * would fix the CommonJS case only, not two releases side by side, and would make this package a
 * dual package with two copies of its own state.
 */
function mountPath(c: Context): string {
  const pattern = (c.req as AppRequest).routePath
  if (typeof pattern !== 'string') throw new TypeError('metricsRoutes: the app\'s hono exposes no c.req.routePath (hono 4.x does); the mount path is unknown')
  // The dispatcher is registered at `*`, which mounting turns into `<mount>/*` (`/*` at the root).
  const base = (pattern.endsWith('*') ? pattern.slice(0, -1) : pattern).replace(/\/+$/, '')
  if (base === '') return '/'
  // A plain mount path is its own base; `app.route('/x/', routes)` serves the same paths as
  // `app.route('/x', routes)`, hence no trailing slash (else `/x/health` would miss the health route).
  return /[:*]/.test(base) ? fillPattern(base, c.req.path) : base
}

/** The matchers of the mount patterns seen, compiled once (an app has a fixed set of mounts). */
const mountMatchers = new Map<string, RegExp>()

/**
 * The prefix of `path` that a mount pattern with parameters or wildcards (`/:tenant/metrics`)
 * matched, as hono's router matches them: `:name` and `*` one segment, `:name{regex}` what its
 * regex matches (it may span slashes), the rest literally. One anchored expression for the whole
 * pattern, so that a parameter that may span slashes gives back what the segments after it need.
 */
function fillPattern(pattern: string, path: string): string {
  let matcher = mountMatchers.get(pattern)
  if (matcher === undefined) {
    // Segments split on slashes outside a parameter's `{regex}`.
    const segments = pattern.slice(1).match(/(?:[^/{]|\{[^}]*\})+/g) ?? []
    const parts = segments.map((segment) => {
      if (segment === '*') return '[^/]+'
      const param = /^:[^{]+(?:\{(.+)\})?$/.exec(segment)
      if (param !== null) return param[1] === undefined ? '[^/]+' : `(?:${param[1]})`
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    matcher = new RegExp(`^/${parts.join('/')}(?=/|$)`)
    mountMatchers.set(pattern, matcher)
  }
  return matcher.exec(path)?.[0] ?? path
}

/**
 * Which of the routes a request is for, from its path relative to where the
 * routes are mounted ({@link mountPath}), one trailing slash allowed. Deciding on
 * the relative path, never on a suffix of the full one, is what keeps
 * routes mounted at `/ops/health` from looking like the health route.
 */
function routeOf(c: Context, probes: boolean): RouteName | undefined {
  const base = mountPath(c)
  const path = c.req.path
  if (!path.startsWith(base)) return undefined
  let rest = base === '/' ? path : path.slice(base.length)
  if (rest.endsWith('/')) rest = rest.slice(0, -1)
  if (rest === '') return 'metrics'
  if (rest === '/health') return 'health'
  if (probes && rest === '/ready') return 'ready'
  if (probes && rest === '/live') return 'live'
  return undefined
}

/** Names the routes' options in their errors (core's option checks, shared by every package). */
const OWNER = 'metricsRoutes'

/**
 * Hono routes that serve Prometheus metrics and a health report. Mount them
 * where the scraper looks:
 *
 * - `GET`/`HEAD` on the mount path (with or without a trailing slash): 200
 *   with the sources' exposition, the sources' `Content-Type` and
 *   `Cache-Control: no-store`; 503 with a JSON `detail` when metrics are off;
 *   500 (a source failed) or 504 (a source took longer than `timeoutMs`)
 *   with a one-line message and no stack; the next scrape works again.
 * - `GET /health`: `{ status, feature_flag, flag_value, endpoint }`.
 * - with `readiness`: `GET /ready` (200 `ready`/`degraded` or 503
 *   `unready` with `Retry-After`) and `GET /live` (always 200).
 * - any other method on these paths: 405 with `Allow: GET, HEAD`.
 *
 * Runs wherever Hono runs (Node, Bun, Deno, Cloudflare Workers): no
 * `node:` import, no prom-client import.
 *
 * @throws {RangeError} when an option is invalid.
 * @example
 * ```ts
 * const app = new Hono()
 * app.route('/metrics/exp', metricsRoutes({ sources: exporter }))
 * ```
 */
export function metricsRoutes(options: MetricsRoutesOptions): Hono {
  const raw: unknown = options
  if (typeof raw !== 'object' || raw === null) throw new RangeError('metricsRoutes: options must be an object with "sources"')
  if ((options.sources as unknown) === undefined) throw new RangeError('metricsRoutes: option "sources" is required: a metrics source (an object with "contentType" and "metrics()") or an array of them')
  const sources = Array.isArray(options.sources) ? [...(options.sources as readonly MetricsSource[])] : [options.sources as MetricsSource]
  if (sources.length === 0) throw new RangeError('metricsRoutes: option "sources" must hold at least one source')
  for (const [i, source] of sources.entries()) {
    if (!isMetricsSource(source)) throw new RangeError(`metricsRoutes: sources[${String(i)}] is not a metrics source (it needs a string "contentType" and a "metrics()" method)`)
  }
  checkSources(sources)
  const timeoutMs = numberOption(OWNER, 'timeoutMs', options.timeoutMs, 5000, { min: 0, minExclusive: true, max: 600_000 })
  const threshold = options.compressThreshold ?? 1024
  if (threshold !== false && (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0)) {
    throw new RangeError(`metricsRoutes: option "compressThreshold" must be an integer >= 0 or false; got ${String(threshold)}`)
  }
  const maxAgeMs = numberOption(OWNER, 'maxAgeMs', options.maxAgeMs, 0, { min: 0, max: 3_600_000 })
  const enabledOption = options.enabled
  if (enabledOption !== undefined && typeof enabledOption !== 'boolean' && typeof enabledOption !== 'function') {
    throw new RangeError('metricsRoutes: option "enabled" must be a boolean or a function of the request context')
  }
  const authOption: unknown = options.auth
  const auth = authOption === undefined || typeof authOption === 'function' ? undefined : checkAuth(authOption)
  const onError = options.onError ?? defaultOnError
  const clock = functionOption(OWNER, 'clock', options.clock, monotonicClock)
  const readiness = options.readiness === undefined ? undefined : resolveReadiness(options.readiness)
  const publicProbes = options.publicHealth === true

  const isEnabled = (c: Context): boolean => {
    if (typeof enabledOption === 'boolean') return enabledOption
    if (typeof enabledOption === 'function') return enabledOption(c)
    return isFlagOn(readMetricsFlag(c))
  }

  /** The credential check of a guarded route: `undefined` lets the request on. */
  let verify: Verify = () => Promise.resolve(undefined)
  if (authOption !== undefined) {
    const staticVerify = auth === undefined ? undefined : verifier(auth)
    // Checks built from per-request credentials, kept while the credentials stay the same.
    let lastKey = ''
    let lastVerify: Verify | undefined
    const verifyFor = (c: Context): Verify => {
      if (staticVerify !== undefined) return staticVerify
      const resolved = checkAuth((authOption as (c: Context) => MetricsAuth)(c))
      const key = JSON.stringify(resolved)
      if (lastVerify === undefined || key !== lastKey) {
        lastKey = key
        lastVerify = verifier(resolved)
      }
      return lastVerify
    }
    verify = (c) => {
      let check: Verify
      try {
        check = verifyFor(c)
      } catch (error) {
        onError(error, c)
        return Promise.resolve(c.text('metrics auth is misconfigured; see the server log\n', 500))
      }
      return check(c)
    }
  }

  const app = new Hono()
  // workerd compresses responses itself according to Content-Encoding (the body must be left
  // uncompressed): compressing here would encode the body twice.
  if (threshold !== false && getRuntimeKey() !== 'workerd') {
    const gzip = compress({ threshold }) as unknown as (c: Context, next: Next) => Promise<Response | undefined>
    // Only scrapers that accept an encoding go through the compress middleware: it inspects the
    // response in a way that turns @hono/node-server's lightweight Response into a full one,
    // which costs more than the rest of the route (measured: 4.7 times fewer requests per second).
    app.use('*', (c: Context, next) => (/\b(gzip|deflate)\b/i.test(c.req.header('Accept-Encoding') ?? '') ? gzip(c, next) : next()))
  }

  /** The last render per format; `at` is when it finished (`undefined` while in flight). */
  const cache = new Map<ExpositionFormat, { at: number | undefined; result: Promise<Collected> }>()
  /** The sources' exposition in `format`, rendered anew unless a render finished less than maxAgeMs ago (or is in flight). */
  const exposition = (format: ExpositionFormat): Promise<Collected> => {
    if (maxAgeMs === 0) return collect(sources, timeoutMs, format)
    const cached = cache.get(format)
    if (cached !== undefined) {
      // A render in flight is shared whatever its age: one started before maxAgeMs would otherwise
      // start another for every scrape that waits behind it, and a render slower than maxAgeMs would
      // never be shared at all (the queue and the latency grow with the scrapers).
      if (cached.at === undefined) return cached.result
      const now = clock()
      // A clock that went backwards (an injected wall clock) makes the cache stale, never younger.
      if (now >= cached.at && now - cached.at <= maxAgeMs) return cached.result
    }
    const entry: { at: number | undefined; result: Promise<Collected> } = { at: undefined, result: collect(sources, timeoutMs, format) }
    cache.set(format, entry)
    entry.result.then(
      () => {
        // A throwing clock (an injected one) must not become an unhandled rejection: no cache then.
        try {
          entry.at = clock()
        } catch {
          if (cache.get(format) === entry) cache.delete(format)
        }
      },
      // A failure is never served from the cache.
      () => {
        if (cache.get(format) === entry) cache.delete(format)
      },
    )
    return entry.result
  }

  const serve = async (c: Context): Promise<Response> => {
    c.header('Cache-Control', 'no-store')
    if (!isEnabled(c)) return c.json({ detail: DISABLED_DETAIL }, 503)
    try {
      const { contentType, body, length: bytes } = await exposition(negotiateFormat(c.req.header('Accept')))
      const headers: Record<string, string> = { 'Content-Type': contentType, Vary: 'Accept' }
      // A short body gets its length, which is what tells the compress middleware to leave it alone;
      // a long one skips measuring (it would mean encoding megabytes twice).
      // HEAD always gets the length GET's body has: there is no body to measure it by.
      const measure = typeof body === 'string' && (c.req.method === 'HEAD' || (threshold !== false && body.length < threshold))
      const length = typeof body === 'string' ? (measure ? utf8Length(body) : undefined) : (bytes ?? (body as Uint8Array).byteLength)
      if (length !== undefined) headers['Content-Length'] = String(length)
      return c.body(responseBody(body), 200, headers)
    } catch (error) {
      onError(error, c)
      if (error instanceof SourceTimeoutError) return c.text(`${error.message}\n`, 504)
      if (error instanceof MixedFormatsError || error instanceof InvalidTextError || error instanceof FamilyConflictError) return c.text(`${error.message}\n`, 500)
      return c.text('metrics source failed; see the server log\n', 500)
    }
  }
  const health = (c: Context): Response => {
    c.header('Cache-Control', 'no-store')
    const enabled = isEnabled(c)
    return c.json({
      status: enabled ? 'enabled' : 'disabled',
      feature_flag: METRICS_FLAG,
      flag_value: readMetricsFlag(c) ?? null,
      endpoint: enabled ? mountPath(c) : null,
    })
  }
  const ready = (c: Context): Response => {
    c.header('Cache-Control', 'no-store')
    const report = judgeReadiness(readiness as NonNullable<typeof readiness>)
    if (report.retryAfterSeconds !== null) c.header('Retry-After', String(report.retryAfterSeconds))
    return c.json({ status: report.status, windows: report.windows }, report.httpStatus)
  }
  const live = (c: Context): Response => {
    c.header('Cache-Control', 'no-store')
    return c.json({ status: 'alive' })
  }
  const handlers: Record<RouteName, (c: Context) => Response | Promise<Response>> = { metrics: serve, health, ready, live }

  // One dispatcher for every route: which route a request is for is decided once, from the path
  // below the mount, and that decides whether credentials are needed (only the probe routes may be
  // public) and which methods are allowed. Routes registered per path would not see the mount
  // path's trailing slash (mounting merges '/' into the bare path) and could not answer 405.
  app.use('*', async (c: Context, next) => {
    const route = routeOf(c, readiness !== undefined)
    if (route === undefined) return next()
    if (route === 'metrics' || !publicProbes) {
      const refused = await verify(c)
      if (refused !== undefined) return refused
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      return c.text('Method Not Allowed\n', 405, { Allow: ALLOW, 'Cache-Control': 'no-store' })
    }
    return handlers[route](c)
  })
  return app
}
