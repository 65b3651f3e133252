import { serve, type ServerType } from '@hono/node-server'
import { StabilityTracker, StabilityWindows } from '@auris/stability-core'
import fc from 'fast-check'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { evaluateReadiness, type ReadinessOptions, type ReadinessStatus } from './readiness.js'
import { metricsRoutes } from './routes.js'

const TEXT = 'text/plain; version=0.0.4; charset=utf-8'
const source = { contentType: TEXT, metrics: () => 'a 1\n' }
/** Small numbers so a few ticks walk a window through every mode: cool-down 4^n ticks, EMA halves per tick. */
const TRACKER = { minStableTicks: 1, emaDecay: 0.5, cooldownBase: 4, degradationThreshold: 0.5 }

function windowsWith(ticks: Record<string, [number, boolean][]>, hysteresis: false | { dwellTicks: number } = false): StabilityWindows {
  const windows = new StabilityWindows({ tracker: TRACKER, hysteresis: hysteresis === false ? false : { ...hysteresis, rateLimitTicks: 0 } })
  for (const [id, samples] of Object.entries(ticks)) for (const [score, degraded] of samples) windows.tick(id, score, degraded)
  return windows
}

describe('evaluateReadiness', () => {
  it('maps each window mode through the table, worst-of by default, with the detail per window', () => {
    // global: two events (EMA 0.25, FAB0, cool-down 16); stream: untouched (FAB2); batch: one event (EMA 0.5, FAB1, cool-down 4).
    const windows = windowsWith({ global: [[0.1, true], [0.1, true]], stream: [[0.9, false]], batch: [[0.1, true]] })
    const report = evaluateReadiness({ windows, tickMs: 250 })
    expect(report.status).toBe('unready')
    expect(report.httpStatus).toBe(503)
    expect(report.retryAfterSeconds).toBe(4)
    expect(report.windows).toEqual([
      { window_id: 'global', status: 'unready', mode: 'FAB0', recommended_mode: 'FAB0', effective_mode: null, stability_score_ema: 0.25, in_cooldown: true, cooldown_remaining_ticks: 16, stable_ticks: 0 },
      { window_id: 'stream', status: 'ready', mode: 'FAB2', recommended_mode: 'FAB2', effective_mode: null, stability_score_ema: 1, in_cooldown: false, cooldown_remaining_ticks: 0, stable_ticks: 1 },
      { window_id: 'batch', status: 'degraded', mode: 'FAB1', recommended_mode: 'FAB1', effective_mode: null, stability_score_ema: 0.5, in_cooldown: true, cooldown_remaining_ticks: 4, stable_ticks: 0 },
    ])
    // FAB0 tolerated as "degraded": 200.
    const tolerant = evaluateReadiness({ windows, tickMs: 250, statusByMode: { FAB0: 'degraded' } })
    expect([tolerant.status, tolerant.httpStatus, tolerant.retryAfterSeconds]).toEqual(['degraded', 200, null])
    // any-of: the best window decides.
    expect(evaluateReadiness({ windows, tickMs: 250, combine: 'any-of' }).status).toBe('ready')
    // Which windows count.
    expect(evaluateReadiness({ windows, tickMs: 250, windowIds: ['stream', 'batch'] }).status).toBe('degraded')
    expect(evaluateReadiness({ windows, tickMs: 250, windowIds: (id) => id === 'stream' }).windows.map((w) => w.window_id)).toEqual(['stream'])
    // A cool-down can refuse on its own; Retry-After is then that window's cool-down: 4 ticks of 250 ms.
    const cooling = evaluateReadiness({ windows, tickMs: 250, windowIds: ['batch'], cooldownStatus: 'unready' })
    expect([cooling.status, cooling.retryAfterSeconds]).toEqual(['unready', 1])
    expect(evaluateReadiness({ windows, tickMs: 1000, windowIds: ['batch'], cooldownStatus: 'unready' }).retryAfterSeconds).toBe(4)
  })

  it('judges the effective (filtered) mode by default, the recommendation on request', () => {
    const windows = windowsWith({ global: [[0.1, true], [0.1, true]] }, { dwellTicks: 5 })
    const effective = evaluateReadiness({ windows, tickMs: 100 })
    expect(effective.windows[0]).toMatchObject({ mode: 'FAB2', recommended_mode: 'FAB0', effective_mode: 'FAB2', status: 'ready' })
    expect(effective.httpStatus).toBe(200)
    const recommended = evaluateReadiness({ windows, tickMs: 100, mode: 'recommended' })
    expect(recommended.windows[0]).toMatchObject({ mode: 'FAB0', status: 'unready' })
    expect(recommended.retryAfterSeconds).toBe(2)
  })

  it('reports a listed window that does not exist yet, unready unless told otherwise; no window at all is ready', () => {
    const windows = windowsWith({ global: [[0.9, false]] })
    const report = evaluateReadiness({ windows, tickMs: 100, windowIds: ['global', 'stream'] })
    expect(report.status).toBe('unready')
    expect(report.retryAfterSeconds).toBe(1)
    expect(report.windows[1]).toEqual({
      window_id: 'stream',
      status: 'unready',
      mode: null,
      recommended_mode: null,
      effective_mode: null,
      stability_score_ema: null,
      in_cooldown: false,
      cooldown_remaining_ticks: 0,
      stable_ticks: null,
    })
    expect(evaluateReadiness({ windows, tickMs: 100, windowIds: ['stream'], missingStatus: 'ready' }).status).toBe('ready')
    expect(evaluateReadiness({ windows: new StabilityWindows(), tickMs: 100 })).toEqual({ status: 'ready', httpStatus: 200, retryAfterSeconds: null, windows: [] })
  })

  it('answers for a registry of 150 000 refusing windows (no argument spread that overflows the stack)', () => {
    const windows = new StabilityWindows({ tracker: TRACKER, hysteresis: false, maxWindows: 150_000 })
    // Every window one event (FAB1, cool-down 4 ticks); w0 two events (FAB0, cool-down 16).
    for (let i = 0; i < 150_000; i++) windows.tick(`w${String(i)}`, 0.1, true)
    windows.tick('w0', 0.1, true)
    const table = { FAB1: 'unready', FAB0: 'unready' } as const
    const worst = evaluateReadiness({ windows, tickMs: 1000, statusByMode: table })
    expect([worst.status, worst.httpStatus, worst.retryAfterSeconds, worst.windows.length]).toEqual(['unready', 503, 16, 150_000])
    const any = evaluateReadiness({ windows, tickMs: 1000, statusByMode: table, combine: 'any-of' })
    expect([any.status, any.httpStatus, any.retryAfterSeconds]).toEqual(['unready', 503, 4])
  })

  it.each([
    ['no windows', { tickMs: 100 }, 'metricsRoutes: option "readiness.windows" is required: a StabilityWindows registry or an iterable of windows'],
    // A generator or `registry[Symbol.iterator]()` would be read by the first request only: every later one would see no window and answer ready.
    ['a one-shot iterator', { tickMs: 100, windows: windowsWith({ global: [[0.1, true]] })[Symbol.iterator]() }, 'metricsRoutes: option "readiness.windows" is an iterator, which can be read only once; pass the StabilityWindows registry itself or an array of windows'],
    ['a NaN tick', { tickMs: Number.NaN }, 'metricsRoutes: option "readiness.tickMs" must be a number in (0, 3600000] (the tick period in ms); got NaN'],
    ['a zero tick', { tickMs: 0 }, 'metricsRoutes: option "readiness.tickMs" must be a number in (0, 3600000] (the tick period in ms); got 0'],
    ['a bad mode key', { tickMs: 1, statusByMode: { FAB3: 'ready' } }, 'metricsRoutes: option "readiness.statusByMode" has key "FAB3"; allowed: "FAB0", "FAB1", "FAB2"'],
    ['a bad status', { tickMs: 1, statusByMode: { FAB0: 'down' } }, 'metricsRoutes: option "readiness.statusByMode.FAB0" must be one of "unready", "degraded", "ready"; got "down"'],
    ['a bad cooldownStatus', { tickMs: 1, cooldownStatus: 503 }, 'metricsRoutes: option "readiness.cooldownStatus" must be one of "unready", "degraded", "ready"; got 503'],
    ['a bad missingStatus', { tickMs: 1, missingStatus: {} }, 'metricsRoutes: option "readiness.missingStatus" must be one of "unready", "degraded", "ready"; got a value of type object'],
    ['a bad mode', { tickMs: 1, mode: 'desired' }, 'metricsRoutes: option "readiness.mode" must be "effective" or "recommended"; got "desired"'],
    ['a bad combine', { tickMs: 1, combine: 'all' }, 'metricsRoutes: option "readiness.combine" must be "worst-of" or "any-of"; got "all"'],
    ['an empty id list', { tickMs: 1, windowIds: [] }, 'metricsRoutes: option "readiness.windowIds" must be a non-empty array of window ids, or a predicate'],
    ['an id that is not a string', { tickMs: 1, windowIds: 'global' }, 'metricsRoutes: option "readiness.windowIds" must be an array of window ids or a predicate'],
    ['a bad table', { tickMs: 1, statusByMode: 'strict' }, 'metricsRoutes: option "readiness.statusByMode" must be an object keyed by FAB0, FAB1, FAB2'],
  ])('rejects %s with a RangeError naming the field', (_label, partial, message) => {
    const options = { windows: new StabilityWindows(), ...partial } as Record<string, unknown>
    if (_label === 'no windows') delete options.windows
    expect(() => metricsRoutes({ sources: source, readiness: options as unknown as ReadinessOptions })).toThrow(new RangeError(message))
  })

  it('agrees with an oracle built from independent trackers, for any samples and any table (property)', () => {
    const status = fc.constantFrom<ReadinessStatus>('ready', 'degraded', 'unready')
    const sample = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean())
    const rank: Record<ReadinessStatus, number> = { unready: 0, degraded: 1, ready: 2 }
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 60 }), fc.record({ FAB0: status, FAB1: status, FAB2: status }), fc.constantFrom('worst-of', 'any-of'), fc.integer({ min: 1, max: 5000 }), (samples, table, combine, tickMs) => {
        const windows = new StabilityWindows({ tracker: TRACKER, hysteresis: false })
        const oracle = new Map<string, StabilityTracker>()
        for (const [id, score, degraded] of samples) {
          windows.tick(id, score, degraded)
          if (!oracle.has(id)) oracle.set(id, new StabilityTracker(TRACKER))
          oracle.get(id)?.tick(score, degraded)
        }
        const report = evaluateReadiness({ windows, tickMs, statusByMode: table, combine })
        const judged = [...oracle.values()].map((t) => ({ status: table[t.recommendMode()], cooldown: t.cooldownRemaining }))
        const ranks = judged.map((j) => rank[j.status])
        const overall = judged.length === 0 ? 'ready' : (['unready', 'degraded', 'ready'] as const)[combine === 'worst-of' ? Math.min(...ranks) : Math.max(...ranks)]
        expect(report.status).toBe(overall)
        expect(report.httpStatus).toBe(overall === 'unready' ? 503 : 200)
        const waits = judged.filter((j) => j.status === 'unready').map((j) => j.cooldown)
        const ticks = combine === 'worst-of' ? Math.max(0, ...waits) : Math.min(...waits)
        expect(report.retryAfterSeconds).toBe(overall === 'unready' ? Math.max(1, Math.ceil((ticks * tickMs) / 1000)) : null)
      }),
      { numRuns: 300 },
    )
  })
})

describe('readiness and liveness over real HTTP (@hono/node-server on 127.0.0.1)', () => {
  let server: ServerType | undefined
  afterEach(async () => {
    await new Promise<void>((resolve) => {
      if (server === undefined) resolve()
      else server.close(() => { resolve() })
    })
    server = undefined
  })

  it('follows the windows as they degrade and recover: status, body and Retry-After', async () => {
    const windows = new StabilityWindows({ tracker: TRACKER, hysteresis: false })
    windows.tick('global', 0.9)
    windows.tick('stream', 0.9)
    const app = new Hono()
    // The metrics are off (flag unset): readiness and liveness do not depend on it.
    app.route('/metrics/exp', metricsRoutes({ sources: source, readiness: { windows, tickMs: 250, windowIds: ['global', 'stream'] } }))
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve(info.port)
      })
    })
    const base = `http://127.0.0.1:${String(port)}/metrics/exp`
    const oracle = new StabilityTracker(TRACKER)
    oracle.tick(0.9)
    const probe = async (): Promise<{ status: number; retryAfter: string | null; body: { status: string; windows: { window_id: string; status: string; cooldown_remaining_ticks: number }[] } }> => {
      const res = await fetch(`${base}/ready`)
      const live = await fetch(`${base}/live`)
      expect(live.status).toBe(200)
      expect(await live.json()).toEqual({ status: 'alive' })
      expect(res.headers.get('cache-control')).toBe('no-store')
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as never }
    }

    let seen = await probe()
    expect([seen.status, seen.retryAfter, seen.body.status]).toEqual([200, null, 'ready'])

    // Two degradations: EMA 0.25 (FAB0), cool-down 16 ticks = 4 s.
    windows.tick('global', 0.1, true)
    oracle.tick(0.1, true)
    seen = await probe()
    expect([seen.status, seen.retryAfter, seen.body.status]).toEqual([200, null, 'degraded'])
    windows.tick('global', 0.1, true)
    oracle.tick(0.1, true)
    seen = await probe()
    expect([seen.status, seen.retryAfter, seen.body.status]).toEqual([503, '4', 'unready'])
    expect(seen.body.windows.map((w) => [w.window_id, w.status, w.cooldown_remaining_ticks])).toEqual([
      ['global', 'unready', 16],
      ['stream', 'ready', 0],
    ])

    // Recovery, tick by tick: the answer follows the state until the window is back in FAB2.
    const trace: [number, string | null][] = []
    for (let tick = 0; tick < 40; tick++) {
      windows.tick('global', 0.9)
      oracle.tick(0.9)
      seen = await probe()
      const mode = oracle.recommendMode()
      const expected = mode === 'FAB2' ? 200 : mode === 'FAB1' ? 200 : 503
      expect(seen.status, `tick ${String(tick)}`).toBe(expected)
      expect(seen.retryAfter, `tick ${String(tick)}`).toBe(expected === 503 ? String(Math.max(1, Math.ceil((oracle.cooldownRemaining * 250) / 1000))) : null)
      trace.push([seen.status, seen.retryAfter])
    }
    // The cool-down counts down 15, 14, ... ticks: Retry-After 4 s, then 3, 2, 1; the window is back by the end.
    expect(trace.slice(0, 4)).toEqual([[503, '4'], [503, '4'], [503, '4'], [503, '3']])
    expect(trace.at(-1)).toEqual([200, null])
    expect(seen.body.status).toBe('ready')

    // Degrades again (events 3 and 4: a cool-down of 4^4 = 256 ticks, 64 s): refused again.
    for (let i = 0; i < 2; i++) {
      windows.tick('global', 0.1, true)
      oracle.tick(0.1, true)
    }
    seen = await probe()
    expect(oracle.cooldownRemaining).toBe(256)
    expect([seen.status, seen.retryAfter, seen.body.status]).toEqual([503, '64', 'unready'])
  })

  it('answers HEAD and refuses other methods on /ready and /live', async () => {
    const windows = new StabilityWindows()
    const app = new Hono().route('/', metricsRoutes({ sources: source, readiness: { windows, tickMs: 100 } }))
    for (const path of ['/ready', '/live']) {
      expect((await app.request(path, { method: 'HEAD' })).status).toBe(200)
      const post = await app.request(path, { method: 'POST' })
      expect(post.status).toBe(405)
      expect(post.headers.get('Allow')).toBe('GET, HEAD')
    }
    expect((await app.request('/ready/x')).status).toBe(404)
    // Without the option, neither route exists.
    const plain = new Hono().route('/', metricsRoutes({ sources: source }))
    expect((await plain.request('/ready')).status).toBe(404)
    expect((await plain.request('/live')).status).toBe(404)
  })
})
