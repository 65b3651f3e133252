import { serve as serveNode, type ServerType } from '@hono/node-server'
import { metricsRoutes, type MetricsSource } from '@auris/metrics-http'
import type { StabilityExporter } from '@auris/prom-exporter'
import { setupPrometheusMetrics } from '@auris/prom-exporter/setup'
import { DEFAULT_SCORE_BUCKETS, MODE_TO_NUMERIC, StabilityWindows, type Hysteresis, type StabilityWindow, type StabilityWindowsOptions } from '@auris/stability-core'
import { SnapshotFileError, lockSnapshotFile, restoreWindowsFile, writeWindowsFile } from '@auris/stability-core/node'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { ProbeFailure, type ServeOptions } from './args.js'
import { persistedSource } from './persisted-scrape.js'
import { seededRandom } from './random.js'
import { livePage } from './report.js'
import { CYCLE, REFERENCE_SCENARIO, SimulatedFabCore, cyclePhase, windowId, type CyclePhase, type SeriesPoint } from './simulation.js'

/** A running probe server. */
export interface ProbeServer {
  readonly url: string
  readonly port: number
  /** Stops ticking, lets in-flight requests finish, closes the server, writes the last snapshot. */
  close(): Promise<void>
}

/** The state file's side of {@link ProbeState}. */
export interface StateFileStatus {
  path: string
  /** Whether the windows were restored from it at start. */
  restored: boolean
  /** Snapshots written since start, and failed. */
  written: number
  failed: number
  /** Duration of the last snapshot written, ms (most of it the event loop running other work). */
  lastWriteMs: number | null
  /** Longest the last snapshot held the event loop at once (one slice of serialisation), ms. */
  longestSliceMs: number | null
  /** Why the last snapshot failed, while it does (null once one succeeds again). */
  lastError: string | null
}

/** The probe's own view of the simulation, for comparison with what Prometheus scraped. */
export interface ProbeState {
  /** Ticks since start (every window ticks once per tick). */
  ticks: number
  /** Ms since start. */
  uptimeMs: number
  /** Ticks that were due (at --tick-ms) but not run yet: the probe falling behind its rate. */
  ticksBehind: number
  /** Whether ticking was paused (POST /probe/pause). */
  paused: boolean
  /** The phase of the default story (`cycle` scenario), or null with --schedule / --degrade-prob. */
  phase: CyclePhase | null
  scenario: ServeOptions['scenario']
  /** Event-loop delay since start, in ms (Node's monitorEventLoopDelay, 10 ms resolution). */
  eventLoopDelayMs: { p50: number; p99: number; max: number }
  windows: number
  /** Degradations injected since start (the `global` window, and all windows). */
  injected: { global: number; total: number }
  global: ReturnType<StabilityWindow['tracker']['getMetrics']> & { hysteresis: ReturnType<Hysteresis['getMetrics']> }
  stateFile: StateFileStatus | null
  /** Samples of the `global` window twice a second (x: seconds since start), newest last; `?since=X` returns those after X. */
  history: SeriesPoint[]
  /** With `--workers`: the slot of the worker that answered (its own simulation), and its process id. */
  worker?: { slot: number; pid: number }
}

/** The running simulation behind `serve`: windows ticking on a timer, exported in pull mode. */
export interface Simulation {
  readonly exporter: StabilityExporter
  readonly windows: StabilityWindows
  state(since?: number): ProbeState
  /** Starts ticking (and snapshotting, with a state file). */
  start(): void
  /** Stops ticking, keeps serving: the counters then stand still for an exact comparison. */
  pause(): void
  /** Stops ticking and, with a state file, writes the last snapshot. */
  stop(): Promise<void>
  /** Stops ticking and snapshotting without a last snapshot (the server never started). */
  dispose(): Promise<void>
  /**
   * Resolves once the state file holds a snapshot taken after this call (at
   * once without a state file, or when nothing ticked since the last
   * snapshot began); rejects when that snapshot fails.
   */
  persist(): Promise<void>
}

type SimulationOptions = Pick<ServeOptions, 'windows' | 'tickMs' | 'scenario' | 'schedule' | 'seed' | 'degradeProbability' | 'stateFile' | 'snapshotMs' | 'stateMaxBytes' | 'degradeEvery'> & {
  /** The cluster worker slot this simulation runs in (picks its `degradeEvery` entry and seed), or absent alone. */
  worker?: number
}

/** The registry configuration of the probe's windows: the reference scenario's tracker with the default score histogram, default filters. */
export function probeWindowsOptions(windows: number): StabilityWindowsOptions {
  return {
    maxWindows: Math.max(windows, 1),
    tracker: { minStableTicks: REFERENCE_SCENARIO.minStableTicks, emaDecay: REFERENCE_SCENARIO.emaDecay, scoreBuckets: DEFAULT_SCORE_BUCKETS },
  }
}

/** Config values are equal: the same number, or arrays (histogram bounds) of the same numbers. */
function sameValue(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => Object.is(x, b[i])))
}

function configDiff(label: string, theirs: object | false, ours: object | false): string[] {
  if (theirs === false || ours === false) return theirs === ours ? [] : [`${label} filters ${theirs === false ? 'off' : 'on'} (this run: ${ours === false ? 'off' : 'on'})`]
  const a = theirs as Record<string, unknown>
  const b = ours as Record<string, unknown>
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    // A state file written before the probe kept score histograms has none: they are enabled once it is restored.
    .filter((k) => !sameValue(a[k], b[k]) && !(k === 'scoreBuckets' && a[k] === undefined))
    .map((k) => `${label} ${k} ${String(a[k])} (this run: ${String(b[k])})`)
}

/**
 * The probe's restore policy: adopt a registry whose configuration is the
 * probe's and whose windows are all windows the probe simulates (missing
 * ones start fresh); refuse anything else, saying why.
 */
export function fitsProbe(restored: StabilityWindows, windows: number): string | null {
  const ours = new StabilityWindows(probeWindowsOptions(windows))
  const diff = [...configDiff('tracker', restored.trackerConfig, ours.trackerConfig), ...configDiff('hysteresis', restored.hysteresisConfig, ours.hysteresisConfig)]
  if (diff.length > 0) return `was written with another configuration: ${diff.join(', ')}`
  const valid = new Set(Array.from({ length: windows }, (_, i) => windowId(i)))
  const foreign = restored.ids().filter((id) => !valid.has(id))
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).map((id) => JSON.stringify(id)).join(', ')
    return `holds ${String(foreign.length)} window(s) this run does not simulate (${shown}${foreign.length > 3 ? ', ...' : ''}); this run simulates ${windows === 1 ? 'global' : `global .. ${windowId(windows - 1)}`} (--windows ${String(windows)})`
  }
  return null
}

const HISTORY_MS = 500
const HISTORY_POINTS = 1200
/**
 * `windows` simulated cores ticking every `tickMs` into a window registry,
 * exported in pull mode. Shared by `serve` and the benchmarks, so they carry
 * the same load. Nothing ticks before {@link Simulation.start}.
 *
 * @throws {ProbeFailure} when the state file cannot be read at all (a
 *   directory, no permission) or cannot be written.
 */
export async function startSimulation(options: SimulationOptions, log: (line: string) => void = () => undefined): Promise<Simulation> {
  const config = probeWindowsOptions(options.windows)
  const scenario = options.scenario
  const stateFile = options.stateFile
  const fileOptions = { maxBytes: options.stateMaxBytes }
  let registry = new StabilityWindows(config)
  let restored = false
  // One probe per state file: a second one would overwrite the first's state every period.
  let unlock = (): Promise<void> => Promise.resolve()
  if (stateFile !== null) {
    try {
      unlock = await lockSnapshotFile(stateFile)
    } catch (error) {
      if (error instanceof SnapshotFileError) throw new ProbeFailure(`cannot use the state file: ${error.message}`)
      throw error
    }
    try {
      const result = await restoreWindowsFile(stateFile, { maxWindows: config.maxWindows as number, fresh: config, ...fileOptions, accept: (w) => fitsProbe(w, options.windows) })
      registry = result.windows
      if (registry.trackerConfig.scoreBuckets === undefined) registry.configure({ tracker: { scoreBuckets: DEFAULT_SCORE_BUCKETS } })
      restored = result.restored
      if (result.restored) log(`auris-probe: restored ${String(registry.size)} window(s) from ${stateFile}`)
      else if (result.keptAs === undefined) log(`auris-probe: starting fresh: ${result.problem ?? 'no snapshot'}`)
      else log(`auris-probe: starting fresh: ${result.problem ?? 'refused'}; the refused file is kept as ${result.keptAs}`)
    } catch (error) {
      await unlock()
      if (error instanceof SnapshotFileError) throw new ProbeFailure(`cannot use the state file: ${error.message}`)
      throw error
    }
  }
  const exporter = await setupPrometheusMetrics({ env: { AURIS_METRICS_EXP: 'on' }, maxWindows: options.windows })
  if (exporter === null) throw new Error('unreachable: the exporter is set up with the flag on')
  const untrack = exporter.track(registry)

  const cores = Array.from({ length: options.windows }, () => new SimulatedFabCore(REFERENCE_SCENARIO))
  const handles = cores.map((_core, i) => registry.acquire(windowId(i)) as StabilityWindow)
  const slot = options.worker
  // Each worker its own core: its own seed, its own entry of --degrade-every.
  const random = seededRandom(slot === undefined ? options.seed : (options.seed + slot) % 2 ** 32)
  const periodic = options.schedule === null ? null : new Set(options.schedule)
  const every = options.degradeEvery === undefined || options.degradeEvery.length === 0 ? 0 : (options.degradeEvery[(slot ?? 0) % options.degradeEvery.length] as number)
  const injected = new Uint32Array(options.windows)
  let ticks = 0
  const step = (): void => {
    ticks++
    const chance = scenario === 'every' ? 0 : scenario === 'cycle' ? (cyclePhase(ticks) === 'degrading' ? CYCLE.degradeProbability : 0) : options.degradeProbability
    const at = ((ticks - 1) % 100) + 1
    for (let i = 0; i < cores.length; i++) {
      const degrade = scenario === 'every' ? every > 0 && ticks % every === 0 : periodic === null ? chance > 0 && random() < chance : periodic.has(at)
      const core = cores[i] as SimulatedFabCore
      core.step(degrade)
      if (degrade) injected[i] = (injected[i] as number) + 1
      ;(handles[i] as StabilityWindow).tick(core.coherenceScore, core.degraded)
    }
  }

  const file: StateFileStatus | null = stateFile === null ? null : { path: stateFile, restored, written: 0, failed: 0, lastWriteMs: null, longestSliceMs: null, lastError: null }
  const writeOnce = async (share = 0.25): Promise<void> => {
    if (stateFile === null || file === null) return
    try {
      // A quarter of the loop at most, in slices of 4 ms: ticks keep their pace, a large snapshot takes longer.
      const written = await writeWindowsFile(stateFile, registry, { ...fileOptions, sliceMs: 4, share })
      if (file.lastError !== null) log(`auris-probe: snapshot written again to ${stateFile}`)
      file.written++
      file.lastWriteMs = Math.round(written.elapsedMs)
      file.longestSliceMs = Math.round(written.longestSliceMs * 10) / 10
      file.lastError = null
    } catch (error) {
      file.failed++
      const message = (error as Error).message
      // Said once per new problem, not once per period.
      if (file.lastError !== message) log(`auris-probe: snapshot failed: ${message}; retrying every ${String(options.snapshotMs)} ms`)
      file.lastError = message
      throw error
    }
  }
  if (stateFile !== null) {
    // The file must be writable before the probe says it serves: one snapshot now, at full speed (nothing ticks yet).
    try {
      await writeOnce(1)
    } catch (error) {
      untrack()
      await unlock()
      throw new ProbeFailure(`cannot write the state file: ${(error as Error).message}`)
    }
  }

  // Snapshots one at a time, in order: callers that arrive while one waits to start share it, and a
  // snapshot is skipped when nothing ticked since the last successful one began (it holds this state).
  let chain: Promise<void> = Promise.resolve()
  let queued: Promise<void> | null = null
  let persistedAt = -1
  const snapshotAfter = (share = 0.25): Promise<void> => {
    if (stateFile === null) return Promise.resolve()
    if (queued !== null) return queued
    const next = chain.then(async () => {
      queued = null
      if (ticks === persistedAt) return
      const at = ticks
      await writeOnce(share)
      persistedAt = at
    })
    queued = next
    chain = next.catch(() => undefined)
    return next
  }

  const delay = monitorEventLoopDelay({ resolution: 10 })
  const history: SeriesPoint[] = []
  let counted = (handles[0] as StabilityWindow).tracker.totalDegradations
  let started = 0
  let running = false
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let sampler: ReturnType<typeof setInterval> | undefined
  let snapshotTimer: ReturnType<typeof setTimeout> | undefined
  let snapshotting: Promise<void> | null = null

  const sample = (): void => {
    const g = handles[0] as StabilityWindow
    const m = g.tracker.getMetrics()
    history.push({
      x: Math.round(performance.now() - started) / 1000,
      score: m.stabilityScore,
      ema: m.stabilityScoreEma,
      recommended: MODE_TO_NUMERIC[m.recommendedMode],
      // The probe's windows always have a filter (fitsProbe refuses files without).
      effective: MODE_TO_NUMERIC[(g.hysteresis as Hysteresis).effectiveMode],
      cooldownRemaining: m.cooldownRemaining,
      events: m.totalDegradations - counted,
    })
    counted = m.totalDegradations
    if (history.length > HISTORY_POINTS) history.splice(0, history.length - HISTORY_POINTS)
  }

  const due = (): number => Math.floor((performance.now() - started) / options.tickMs)
  // Ticks keep their rate: each turn runs the ticks due by the clock (a late timer is caught up),
  // at most ~10 ms of them, then yields, so a slow turn never turns into a long stall.
  const turn = (): void => {
    if (!running) return
    const until = performance.now() + 10
    while (ticks < due() && performance.now() < until) step()
    const next = started + (ticks + 1) * options.tickMs - performance.now()
    timer = ticks < due() ? setTimeout(turn, 0) : setTimeout(turn, Math.max(0, next))
  }
  // Full speed: ~1 ms of ticks per batch, then yield so requests are served in between.
  const batch = (): void => {
    if (!running) return
    const until = performance.now() + 1
    do step()
    while (performance.now() < until)
    timer = setTimeout(batch, 0)
  }
  const scheduleSnapshot = (): void => {
    if (stateFile === null || stopped) return
    snapshotTimer = setTimeout(() => {
      snapshotting = snapshotAfter()
        .catch(() => undefined)
        .finally(() => {
          snapshotting = null
          scheduleSnapshot()
        })
    }, options.snapshotMs)
  }
  const halt = (): void => {
    running = false
    clearTimeout(timer)
    clearInterval(sampler)
  }
  const finish = async (last: boolean): Promise<void> => {
    if (stopped) return
    halt()
    stopped = true
    clearTimeout(snapshotTimer)
    delay.disable()
    untrack()
    // One snapshot at a time: let a running one (periodic or for a scrape) finish before the last.
    await snapshotting
    await chain
    try {
      if (last && stateFile !== null) {
        try {
          // Nothing ticks any more: full speed.
          await writeOnce(1)
        } catch (error) {
          throw new ProbeFailure(`stopped, but the last snapshot was not written: ${(error as Error).message}`)
        }
      }
    } finally {
      await unlock()
    }
  }

  return {
    exporter,
    windows: registry,
    start: () => {
      if (running || stopped) return
      running = true
      started = performance.now()
      delay.enable()
      sample()
      sampler = setInterval(sample, HISTORY_MS)
      timer = setTimeout(options.tickMs > 0 ? turn : batch, 0)
      scheduleSnapshot()
    },
    state: (since) => {
      const global = handles[0] as StabilityWindow
      let total = 0
      for (const n of injected) total += n
      const now = performance.now()
      return {
        ticks,
        uptimeMs: Math.round(started === 0 ? 0 : now - started),
        ticksBehind: running && options.tickMs > 0 ? Math.max(0, due() - ticks) : 0,
        paused: !running,
        phase: scenario === 'cycle' ? cyclePhase(Math.max(ticks, 1)) : null,
        scenario,
        eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
        windows: registry.size,
        injected: { global: injected[0] as number, total },
        global: { ...global.tracker.getMetrics(), hysteresis: (global.hysteresis as Hysteresis).getMetrics() },
        stateFile: file === null ? null : { ...file },
        history: since === undefined ? history.slice() : history.filter((p) => p.x > since),
        ...(slot === undefined ? {} : { worker: { slot, pid: process.pid } }),
      }
    },
    pause: halt,
    stop: () => finish(true),
    dispose: () => finish(false),
    persist: () => snapshotAfter(0.5),
  }
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): ProbeFailure {
  const where = `${host}:${String(port)}`
  const why: Record<string, string> = {
    EADDRINUSE: `${where} is already in use (pick another --port, or 0 for a free one)`,
    EACCES: `${where} needs privileges (ports below 1024 do; pick another --port)`,
    EADDRNOTAVAIL: `${host} is not an address of this machine (--host)`,
    ENOTFOUND: `${host} does not resolve (--host)`,
    EAI_AGAIN: `${host} does not resolve right now (--host)`,
  }
  const code = error.code ?? error.message
  return new ProbeFailure(`cannot listen on ${where}: ${why[code] ?? code}`)
}

/**
 * The serve mode: the simulation, served by `@hono/node-server` through
 * `@auris/metrics-http`, with `/probe/state` for the probe's own view and a
 * live page at `/`.
 *
 * @throws {ProbeFailure} when the address cannot be listened on or the state
 *   file cannot be used; nothing is left running.
 */
export async function startProbeServer(options: ServeOptions & { worker?: number }, log: (line: string) => void = () => undefined, source: (exporter: StabilityExporter) => MetricsSource = (e) => e): Promise<ProbeServer> {
  const simulation = await startSimulation(options, log)
  const app = new Hono()
  // The flag is read per request from process.env, which the CLI set for the probe.
  // A cluster worker serves the merged cluster (`source`); --workers and --state-file exclude each other.
  app.route('/metrics/exp', metricsRoutes({ sources: options.stateFile !== null ? persistedSource(simulation, true) : source(simulation.exporter), maxAgeMs: options.maxAgeMs }))
  app.get('/', (c) => c.html(livePage()))
  app.get('/probe/state', (c) => {
    const since = c.req.query('since')
    const x = since === undefined ? undefined : Number(since)
    if (x !== undefined && !Number.isFinite(x)) return c.json({ error: 'since must be a number of seconds' }, 400)
    return c.json(simulation.state(x))
  })
  app.post('/probe/pause', (c) => {
    simulation.pause()
    return c.json(simulation.state())
  })

  let server: ServerType
  try {
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serveNode({ fetch: app.fetch, port: options.port, hostname: options.host }, () => {
        s.off('error', reject)
        resolve(s)
      })
      s.once('error', reject)
    })
  } catch (error) {
    await simulation.dispose()
    throw listenError(error as NodeJS.ErrnoException, options.host, options.port)
  }
  simulation.start()
  const port = (server.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`
  const pace = options.tickMs === 0 ? 'ticking at full speed' : `a tick every ${String(options.tickMs)} ms`
  log(`auris-probe: serving ${url}/metrics/exp (health: ${url}/metrics/exp/health, live page: ${url}/), ${String(options.windows)} window(s), ${pace}`)
  if (options.scenario === 'cycle') {
    log(
      `auris-probe: scenario: healthy ${String(CYCLE.healthyTicks)} ticks, degrading ${String(CYCLE.degradingTicks)}, recovering ${String(CYCLE.recoveringTicks)}, repeated` +
        (options.tickMs === 10 ? ' (1 min, 4 min, 3 min)' : ''),
    )
  }

  let closing: Promise<void> | null = null
  return {
    url,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        // Idle keep-alive connections would hold close() open; busy ones finish their request
        // first, then go idle and are closed on the next pass.
        const closeIdle = (): void => {
          ;(server as { closeIdleConnections?: () => void }).closeIdleConnections?.()
        }
        const sweeper = setInterval(closeIdle, 50)
        server.close((error) => {
          clearInterval(sweeper)
          if (error === undefined) resolve()
          else reject(error)
        })
        closeIdle()
      }).then(() => simulation.stop())
      return closing
    },
  }
}
