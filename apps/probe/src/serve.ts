import { serve as serveNode, type ServerType } from '@hono/node-server'
import { metricsRoutes } from '@auris/metrics-http'
import type { StabilityExporter } from '@auris/prom-exporter'
import { setupPrometheusMetrics } from '@auris/prom-exporter/setup'
import { StabilityWindows, type StabilityWindow } from '@auris/stability-core'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
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
  windows: number
  /** Degradations injected into each window so far (global first). */
  injected: { global: number; total: number }
  global: ReturnType<StabilityWindow['tracker']['getMetrics']> & { hysteresis: ReturnType<NonNullable<StabilityWindow['hysteresis']>['getMetrics']> | null }
}

/** The running simulation behind `serve`: windows ticking on a timer, exported in pull mode. */
export interface Simulation {
  readonly exporter: StabilityExporter
  state(): ProbeState
  stop(): void
}

/**
 * `windows` simulated cores ticking every `tickMs` into a window registry,
 * exported in pull mode. Shared by `serve` and the HTTP benchmark's bare
 * node:http baseline, so both carry the same load.
 */
export async function startSimulation(options: Pick<ServeOptions, 'windows' | 'tickMs' | 'schedule' | 'seed' | 'degradeProbability'>): Promise<Simulation> {
  const registry = new StabilityWindows({ maxWindows: Math.max(options.windows, 1), tracker: { minStableTicks: REFERENCE_SCENARIO.minStableTicks, emaDecay: REFERENCE_SCENARIO.emaDecay } })
  const exporter = await setupPrometheusMetrics({ env: { AURIS_METRICS_EXP: 'on' }, maxWindows: options.windows })
  if (exporter === null) throw new Error('unreachable: the exporter is set up with the flag on')
  exporter.track(registry)

  const cores = Array.from({ length: options.windows }, () => new SimulatedFabCore(REFERENCE_SCENARIO))
  const handles = cores.map((_core, i) => registry.acquire(windowId(i)) as StabilityWindow)
  const random = seededRandom(options.seed)
  const periodic = options.schedule === null ? null : new Set(options.schedule)
  const injected = new Uint32Array(options.windows)
  let ticks = 0
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
  const timer = setInterval(step, options.tickMs)
  return {
    exporter,
    state: () => {
      const global = handles[0] as StabilityWindow
      let total = 0
      for (const n of injected) total += n
      return {
        ticks,
        windows: registry.size,
        injected: { global: injected[0] ?? 0, total },
        global: { ...global.tracker.getMetrics(), hysteresis: global.hysteresis?.getMetrics() ?? null },
      }
    },
    stop: () => {
      clearInterval(timer)
    },
  }
}

/**
 * The serve mode: the simulation, served by `@hono/node-server` through
 * `@auris/metrics-http`, with `/probe/state` for the probe's own view.
 */
export async function startProbeServer(options: ServeOptions, log: (line: string) => void = () => undefined): Promise<ProbeServer> {
  const simulation = await startSimulation(options)
  const app = new Hono()
  // The flag is read per request from process.env, which the CLI set for the probe.
  app.route('/metrics/exp', metricsRoutes({ sources: simulation.exporter, maxAgeMs: options.maxAgeMs }))
  app.get('/probe/state', (c) => c.json(simulation.state()))

  const server: ServerType = await new Promise((resolve) => {
    const s = serveNode({ fetch: app.fetch, port: options.port, hostname: options.host }, () => {
      resolve(s)
    })
  })
  const port = (server.address() as AddressInfo).port
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${String(port)}`
  log(`auris-probe: serving ${url}/metrics/exp (health: ${url}/metrics/exp/health), ${String(options.windows)} window(s), a tick every ${String(options.tickMs)} ms`)

  let closing: Promise<void> | null = null
  return {
    url,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        simulation.stop()
        server.close((error) => {
          if (error === undefined) resolve()
          else reject(error)
        })
        // Idle keep-alive connections would hold close() open; busy ones finish their request first.
        ;(server as { closeIdleConnections?: () => void }).closeIdleConnections?.()
      })
      return closing
    },
  }
}
