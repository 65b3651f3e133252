import { Hono, type Context } from 'hono'
import { env, getRuntimeKey } from 'hono/adapter'
import { compress } from 'hono/compress'
import { routePath } from 'hono/route'
import { authMiddleware, checkAuth, type Guard, type MetricsAuth } from './auth.js'
import { FamilyConflictError } from './merge.js'
import { InvalidTextError, MixedFormatsError, SourceTimeoutError, checkSources, collect, isMetricsSource, negotiateFormat, responseBody, type Collected, type ExpositionFormat, type MetricsSource } from './source.js'

/** The feature flag the routes read by default. */
export const METRICS_FLAG = 'AURIS_METRICS_EXP'

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
  /** Serve `/health` without credentials even when `auth` is set. Default false. */
  publicHealth?: boolean
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
   * Serve a body rendered at most this many ms ago instead of rendering
   * again. Concurrent scrapes then share one render: with many scrapers
   * (or a load test) the latency stays near one render time instead of
   * growing with the queue. Default 0: every scrape renders (Prometheus
   * scrapes every 15 s or so, so a cache below that never serves it stale data
   * twice).
   */
  maxAgeMs?: number
  /** Told about every failed scrape (the response itself says only that the source failed). Default: `console.error`, one line. */
  onError?: (error: unknown, c: Context) => void
}

const DISABLED_DETAIL = `Metrics disabled (set ${METRICS_FLAG}=on to enable)`
const ON = new Set(['on', 'true', '1'])

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

function flagOn(value: string | undefined): boolean {
  return value !== undefined && ON.has(value.trim().toLowerCase())
}

const encoder = new TextEncoder()

function utf8Length(text: string): number {
  return encoder.encode(text).length
}

function defaultOnError(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  console.error(`[auris] metrics scrape failed: ${message.split('\n')[0] ?? ''}`)
}

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
  const sources = Array.isArray(options.sources) ? [...(options.sources as readonly MetricsSource[])] : [options.sources as MetricsSource]
  if (sources.length === 0) throw new RangeError('metricsRoutes: option "sources" must hold at least one source')
  for (const [i, source] of sources.entries()) {
    if (!isMetricsSource(source)) throw new RangeError(`metricsRoutes: sources[${String(i)}] is not a metrics source (it needs a string "contentType" and a "metrics()" method)`)
  }
  checkSources(sources)
  const timeoutMs = options.timeoutMs ?? 5000
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > 600_000) {
    throw new RangeError(`metricsRoutes: option "timeoutMs" must be a number in (0, 600000]; got ${String(timeoutMs)}`)
  }
  const threshold = options.compressThreshold ?? 1024
  if (threshold !== false && (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0)) {
    throw new RangeError(`metricsRoutes: option "compressThreshold" must be an integer >= 0 or false; got ${String(threshold)}`)
  }
  const maxAgeMs = options.maxAgeMs ?? 0
  if (typeof maxAgeMs !== 'number' || !(maxAgeMs >= 0) || maxAgeMs > 3_600_000) {
    throw new RangeError(`metricsRoutes: option "maxAgeMs" must be a number in [0, 3600000]; got ${String(maxAgeMs)}`)
  }
  const enabledOption = options.enabled
  if (enabledOption !== undefined && typeof enabledOption !== 'boolean' && typeof enabledOption !== 'function') {
    throw new RangeError('metricsRoutes: option "enabled" must be a boolean or a function of the request context')
  }
  const authOption: unknown = options.auth
  const auth = authOption === undefined || typeof authOption === 'function' ? undefined : checkAuth(authOption)
  const onError = options.onError ?? defaultOnError

  const isEnabled = (c: Context): boolean => {
    if (typeof enabledOption === 'boolean') return enabledOption
    if (typeof enabledOption === 'function') return enabledOption(c)
    return flagOn(readMetricsFlag(c))
  }

  const app = new Hono()
  if (authOption !== undefined) {
    const staticGuard = auth === undefined ? undefined : authMiddleware(auth)
    // Guards built from per-request credentials, kept while the credentials stay the same.
    let lastKey = ''
    let lastGuard: Guard | undefined
    const guardFor = (c: Context): Guard => {
      if (staticGuard !== undefined) return staticGuard
      const resolved = checkAuth((authOption as (c: Context) => MetricsAuth)(c))
      const key = JSON.stringify(resolved)
      if (lastGuard === undefined || key !== lastKey) {
        lastKey = key
        lastGuard = authMiddleware(resolved)
      }
      return lastGuard
    }
    app.use('*', async (c: Context, next) => {
      if (options.publicHealth === true && c.req.path.endsWith('/health')) {
        await next()
        return undefined
      }
      let guard: Guard
      try {
        guard = guardFor(c)
      } catch (error) {
        onError(error, c)
        return c.text('metrics auth is misconfigured; see the server log\n', 500)
      }
      return guard(c, next)
    })
  }
  // workerd compresses responses itself according to Content-Encoding (the body must be left
  // uncompressed): compressing here would encode the body twice.
  if (threshold !== false && getRuntimeKey() !== 'workerd') {
    const gzip = compress({ threshold }) as unknown as Guard
    // Only scrapers that accept an encoding go through the compress middleware: it inspects the
    // response in a way that turns @hono/node-server's lightweight Response into a full one,
    // which costs more than the rest of the route (measured: 4.7 times fewer requests per second).
    app.use('*', (c: Context, next) => (/\b(gzip|deflate)\b/i.test(c.req.header('Accept-Encoding') ?? '') ? gzip(c, next) : next()))
  }

  const cache = new Map<ExpositionFormat, { at: number; result: Promise<Collected> }>()
  /** The sources' exposition in `format`, rendered anew unless a render younger than maxAgeMs exists (or is in flight). */
  const exposition = (format: ExpositionFormat): Promise<Collected> => {
    if (maxAgeMs === 0) return collect(sources, timeoutMs, format)
    const now = Date.now()
    const cached = cache.get(format)
    if (cached !== undefined && now - cached.at <= maxAgeMs) return cached.result
    const entry = { at: now, result: collect(sources, timeoutMs, format) }
    cache.set(format, entry)
    // A failure is never served from the cache.
    entry.result.catch(() => {
      if (cache.get(format) === entry) cache.delete(format)
    })
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
      const length = typeof body === 'string' ? (threshold !== false && body.length < threshold ? utf8Length(body) : undefined) : (bytes ?? (body as Uint8Array).byteLength)
      if (length !== undefined) headers['Content-Length'] = String(length)
      return c.body(responseBody(body), 200, headers)
    } catch (error) {
      onError(error, c)
      if (error instanceof SourceTimeoutError) return c.text(`${error.message}\n`, 504)
      if (error instanceof MixedFormatsError || error instanceof InvalidTextError || error instanceof FamilyConflictError) return c.text(`${error.message}\n`, 500)
      return c.text('metrics source failed; see the server log\n', 500)
    }
  }
  // The mount path with a trailing slash (`/metrics/exp/`): mounting merges `/` into the bare path,
  // so it is matched here, through the sub-app's catch-all middleware.
  app.use('*', (c: Context, next) => {
    const path = c.req.path
    if (path.length > 1 && path.endsWith('/') && (c.req.method === 'GET' || c.req.method === 'HEAD') && path === `${routePath(c).replace(/\/?\*$/, '')}/`) {
      return serve(c)
    }
    return next()
  })
  app.get('/', serve)
  app.get('/health', (c) => {
    c.header('Cache-Control', 'no-store')
    const enabled = isEnabled(c)
    const path = c.req.path.replace(/\/health$/, '')
    return c.json({
      status: enabled ? 'enabled' : 'disabled',
      feature_flag: METRICS_FLAG,
      flag_value: readMetricsFlag(c) ?? null,
      endpoint: enabled ? (path === '' ? '/' : path) : null,
    })
  })
  return app
}
