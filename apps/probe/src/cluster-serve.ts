import cluster, { type Address, type Worker } from 'node:cluster'
import { clusterWorkerSource, createClusterPrimary, workerSlot } from '@auris/prom-exporter/cluster'
import { EXIT, ProbeFailure, type ServeOptions } from './args.js'
import { startProbeServer, type ProbeServer } from './serve.js'

/** How long the primary waits for the workers' snapshots at each scrape, ms: under a 1 s scrape interval. */
export const CLUSTER_TIMEOUT_MS = 500

/**
 * `probe serve --workers N`, in the primary: forks N workers (each runs this
 * CLI with the same arguments), respawns a worker that dies into its slot,
 * and answers the workers' scrapes with the merged snapshot of all of them.
 * Resolves with the exit status once SIGINT or SIGTERM stopped every worker.
 *
 * @throws {ProbeFailure} when a worker cannot start (the address, say): the
 *   others are stopped first.
 */
export async function serveClusterPrimary(options: ServeOptions, log: (line: string) => void): Promise<number> {
  const count = options.workers ?? 1
  const primary = createClusterPrimary({ mode: options.clusterMode ?? 'worker', timeoutMs: CLUSTER_TIMEOUT_MS })
  let stopping = false
  const listening = new Set<number>()
  let ready: (address: Address) => void = () => undefined
  let failed: (error: Error) => void = () => undefined
  const started = new Promise<Address>((resolve, reject) => {
    ready = resolve
    failed = reject
  })
  const onListening = (worker: Worker, address: Address): void => {
    const slot = primary.slotOfWorker(worker)
    if (slot === undefined) return
    listening.add(worker.id)
    if (listening.size === count) ready(address)
  }
  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    if (stopping) return
    if (!listening.has(worker.id)) {
      // It never served: the address or the setup is wrong, and a respawn would fail the same way.
      failed(new ProbeFailure(`a cluster worker exited before serving (${signal ?? `exit status ${String(code)}`}); its error is above`))
      return
    }
    listening.delete(worker.id)
    const replacement = primary.fork()
    log(`auris-probe: worker ${String(primary.slotOfWorker(replacement))} (pid ${String(worker.process.pid)}) exited (${signal ?? `status ${String(code)}`}); respawned as pid ${String(replacement.process.pid)}, its counters continue`)
  }
  cluster.on('listening', onListening)
  cluster.on('exit', onExit)
  const stopAll = async (): Promise<void> => {
    stopping = true
    const live = primary.workers.filter((w): w is Worker => w !== null && !w.isDead())
    await Promise.all(
      live.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => {
              resolve()
            })
            w.process.kill('SIGTERM')
          }),
      ),
    )
    cluster.off('listening', onListening)
    cluster.off('exit', onExit)
    primary.close()
  }
  for (let i = 0; i < count; i++) primary.fork()
  let address: Address
  try {
    address = await started
  } catch (error) {
    await stopAll()
    throw error
  }
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  const url = `http://${host}:${String(address.port)}`
  log(
    `auris-probe: serving ${url}/metrics/exp from a cluster of ${String(count)} worker(s) on one port (${options.clusterMode ?? 'worker'} mode: ${options.clusterMode === 'aggregate' ? 'one series per window, the worst worker for gauges, the sum for counters' : 'a worker label on every series'}), ${String(options.windows)} window(s) per worker`,
  )
  log('Ctrl-C (SIGINT) or SIGTERM stops it.')
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => {
      log('auris-probe: SIGINT, stopping the workers')
      resolve()
    })
    process.once('SIGTERM', () => {
      log('auris-probe: SIGTERM, stopping the workers')
      resolve()
    })
  })
  await stopAll()
  log('auris-probe: stopped')
  return EXIT.ok
}

/**
 * `probe serve --workers N`, in a worker: the probe's server on the shared
 * port, its simulation seeded and paced by its slot, its metrics route
 * serving the whole cluster.
 */
export async function startClusterWorker(options: ServeOptions): Promise<ProbeServer> {
  const slot = workerSlot() ?? 0
  const server = await startProbeServer({ ...options, worker: slot }, () => undefined, (exporter) => clusterWorkerSource(exporter, { timeoutMs: CLUSTER_TIMEOUT_MS + 4000 }))
  // The primary gone (killed), the worker has nobody to merge its scrapes: stop.
  cluster.worker?.on('disconnect', () => {
    void server.close().finally(() => process.exit(EXIT.failure))
  })
  return server
}
