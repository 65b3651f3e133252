import { serve as serveNode, type ServerType } from '@hono/node-server'
import { metricsRoutes } from '@auris/metrics-http'
import type { StabilityExporter } from '@auris/prom-exporter'
import { setupPrometheusMetrics } from '@auris/prom-exporter/setup'
import { StabilityWindows, type StabilityWindow } from '@auris/stability-core'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { restoreWindowsFile, writeSnapshotFile } from '@auris/stability-core/node'
import type { ServeOptions } from './args.js'
import { seededRandom } from './random.js'
import { REFERENCE_SCENARIO, SimulatedFabCore, windowId } from './simulation.js'

/** A running probe server. */
export interface ProbeServer {
  readonly url: string
  readonly port: number
  /** Stops ticking, lets in-flight requests finish, closes the server. */
  close(): Promise<void>
}

/** The probe's own view of the simulation, for comparison with what Prometheus scraped. */
export interface ProbeState {
  ticks: number
  /** Whether ticking was paused (POST /probe/pause). */
  paused: boolean
  /** Event-loop delay since start, in ms (Node's monitorEventLoopDelay). */
  eventLoopDelayMs: { p50: number; p99: number; max: number }
  windows: number
  /** Degradations injected into each window so far (global first). */
  injected: { global: number; total: number }
  global: ReturnType<StabilityWindow['tracker']['getMetrics']> & { hysteresis: ReturnType<NonNullable<StabilityWindow['hysteresis']>['getMetrics']> | null }
}

/** The running simulation behind `serve`: windows ticking on a timer, exported in pull mode. */
export interface Simulation {
  readonly exporter: StabilityExporter
  state(): ProbeState
  /** Stops ticking, keeps serving: the counters then stand still for an exact comparison. */
  pause(): void
  /** Stops ticking and writes the last snapshot (with a state file). */
  stop(): Promise<void>
}

/**
 * `windows` simulated cores ticking every `tickMs` into a window registry,
 * exported in pull mode. Shared by `serve` and the HTTP benchmark's bare
 * node:http baseline, so both carry the same load.
 */
export async function startSimulation(
  options: Pick<ServeOptions, 'windows' | 'tickMs' | 'schedule' | 'seed' | 'degradeProbability'> & Partial<Pick<ServeOptions, 'stateFile' | 'snapshotMs'>>,
  log: (line: string) => void = () => undefined,
): Promise<Simulation> {
  const config = { maxWindows: Math.max(options.windows, 1), tracker: { minStableTicks: REFERENCE_SCENARIO.minStableTicks, emaDecay: REFERENCE_SCENARIO.emaDecay } }
  let registry = new StabilityWindows(config)
  const stateFile = options.stateFile ?? null
  if (stateFile !== null) {
    const restored = await restoreWindowsFile(stateFile, { maxWindows: config.maxWindows, fresh: config })
    registry = restored.windows
    log(
      restored.restored
        ? `auris-probe: restored ${String(registry.size)} window(s) from ${stateFile}`
        : `auris-probe: starting fresh: ${restored.problem ?? 'no snapshot'}`,
    )
  }
  const exporter = await setupPrometheusMetrics({ env: { AURIS_METRICS_EXP: 'on' }, maxWindows: options.windows })
  if (exporter === null) throw new Error('unreachable: the exporter is set up with the flag on')
  const untrack = exporter.track(registry)

  const cores = Array.from({ length: options.windows }, () => new SimulatedFabCore(REFERENCE_SCENARIO))
  const handles = cores.map((_core, i) => registry.acquire(windowId(i)) as StabilityWindow)
  const random = seededRandom(options.seed)
  const periodic = options.schedule === null ? null : new Set(options.schedule)
  const injected = new Uint32Array(options.windows)
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  let ticks = 0
  let running = true
  const step = (): void => {
    ticks++
    for (let i = 0; i < cores.length; i++) {
      const degrade = periodic === null ? random() < options.degradeProbability : periodic.has(((ticks - 1) % 100) + 1)
      const core = cores[i] as SimulatedFabCore
      core.step(degrade)
      if (degrade) injected[i] = (injected[i] as number) + 1
      ;(handles[i] as StabilityWindow).tick(core.coherenceScore, core.degraded)
    }
  }
  let timer: ReturnType<typeof setInterval> | undefined
  if (options.tickMs > 0) timer = setInterval(step, options.tickMs)
  else {
    // Full speed: ~1 ms of ticks per batch, then yield so requests are served in between.
    const batch = (): void => {
      if (!running) return
      const until = performance.now() + 1
      do step()
      while (performance.now() < until)
      setImmediate(batch)
    }
    setImmediate(batch)
  }
  const snapshot = async (): Promise<void> => {
    if (stateFile !== null) await writeSnapshotFile(stateFile, registry.toJSON())
  }
  const snapshots =
    stateFile === null
      ? undefined
      : setInterval(() => {
          snapshot().catch((error: unknown) => {
            log(`auris-probe: snapshot failed: ${String(error)}`)
          })
        }, options.snapshotMs ?? 1000)
  const pause = (): void => {
    running = false
    clearInterval(timer)
  }
  return {
    exporter,
    state: () => {
      const global = handles[0] as StabilityWindow
      let total = 0
      for (const n of injected) total += n
      return {
        ticks,
        paused: !running,
        eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
        windows: registry.size,
        injected: { global: injected[0] ?? 0, total },
        global: { ...global.tracker.getMetrics(), hysteresis: global.hysteresis?.getMetrics() ?? null },
      }
    },
    pause,
    stop: async () => {
      pause()
      clearInterval(snapshots)
      delay.disable()
      untrack()
      await snapshot()
    },
  }
}

/**
 * The serve mode: the simulation, served by `@hono/node-server` through
 * `@auris/metrics-http`, with `/probe/state` for the probe's own view.
 */
export async function startProbeServer(options: ServeOptions, log: (line: string) => void = () => undefined): Promise<ProbeServer> {
  const simulation = await startSimulation(options, log)
  const app = new Hono()
  // The flag is read per request from process.env, which the CLI set for the probe.
  app.route('/metrics/exp', metricsRoutes({ sources: simulation.exporter, maxAgeMs: options.maxAgeMs }))
  app.get('/probe/state', (c) => c.json(simulation.state()))
  app.post('/probe/pause', (c) => {
    simulation.pause()
    return c.json(simulation.state())
  })

  const server: ServerType = await new Promise((resolve) => {
    const s = serveNode({ fetch: app.fetch, port: options.port, hostname: options.host }, () => {
      resolve(s)
    })
  })
  const port = (server.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`
  const pace = options.tickMs === 0 ? 'ticking at full speed' : `a tick every ${String(options.tickMs)} ms`
  log(`auris-probe: serving ${url}/metrics/exp (health: ${url}/metrics/exp/health), ${String(options.windows)} window(s), ${pace}`)

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
