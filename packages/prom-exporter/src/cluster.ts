/**
 * @module
 * Node cluster support (`@auris/prom-exporter/cluster`, Node only): the
 * workers of a `node:cluster` share one port and are scraped as one target.
 * Whichever worker accepts a scrape asks the primary for the cluster; the
 * primary asks every worker for its per-scrape snapshot (structured data
 * over IPC, not text), merges them ({@link ClusterMerger}) and sends the
 * merged snapshot back; the accepting worker renders it in slices, in the
 * format the scraper asked for.
 */
import cluster, { type Worker } from 'node:cluster'
import { ClusterMerger, CLUSTER_EXPORTER_FAMILIES, CLUSTER_FAMILIES, MISS_REASONS, WORKER_LABEL, histogramsFromWire, histogramsToWire, toWorkerSnapshot, workerSnapshotProblem, type ClusterMode, type IngestedSnapshot, type MissReason, type WorkerHistograms } from './cluster-merge.js'
import type { StabilityExporter } from './exporter.js'
import { HISTOGRAM_FAMILIES, WINDOW_FAMILIES, type FamilySpec } from './names.js'
import { ExpositionLayout, PROMETHEUS_CONTENT_TYPE, renderSnapshotSliced, type ExpositionFormat } from './render.js'
import type { ExporterSample, StabilitySnapshot } from './snapshot.js'
import { ChunkWriter, concatBytes, fromUtf8 } from './writer.js'

export {
  CLUSTER_EXPORTER_FAMILIES,
  CLUSTER_FAMILIES,
  clusterLayout,
  renderCluster,
  ClusterMerger,
  FORGET_AFTER,
  histogramsFromWire,
  histogramsToWire,
  type ClusterWindow,
  MISS_REASONS,
  WORKER_LABEL,
  toWorkerSnapshot,
  workerSnapshotProblem,
  type ClusterMode,
  type IngestedSnapshot,
  type MissReason,
  type WorkerHistograms,
  type WorkerSnapshot,
} from './cluster-merge.js'

/** The environment variable that tells a worker forked by {@link ClusterPrimary.fork} its slot. */
export const SLOT_ENV = 'AURIS_CLUSTER_SLOT'
/** Tag of every IPC message of this module, so other messages on the channel are left alone. */
const TAG = 'auris.cluster'

type Message =
  | { [TAG]: 'collect'; round: number }
  | { [TAG]: 'snapshot'; round: number; snapshot: unknown }
  | { [TAG]: 'scrape'; id: number }
  | { [TAG]: 'merged'; id: number; snapshot: MergedWire }
  | { [TAG]: 'failed'; id: number; error: string }

/** The merged snapshot as the primary sends it to the rendering worker (no per-window objects: the label bytes suffice). */
interface MergedWire {
  readonly size: number
  readonly labelBytes: Uint8Array
  readonly labelEnds: Uint32Array
  readonly present: Uint8Array
  readonly values: Float64Array
  readonly exporter: readonly { readonly suffix: string; readonly samples: readonly ExporterSample[] }[]
  readonly histograms?: WorkerHistograms
}

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)[TAG] === 'string'

/**
 * The slot of this worker (0..N-1) when it was forked by {@link ClusterPrimary.fork}, else null.
 *
 * @example
 * ```ts
 * const slot = workerSlot() ?? 0 // pick this worker's share of the work
 * ```
 */
export function workerSlot(env: Readonly<Record<string, string | undefined>> = process.env): number | null {
  const text = env[SLOT_ENV]
  return text !== undefined && /^[0-9]{1,5}$/.test(text) ? Number(text) : null
}

/** Options of {@link createClusterPrimary}. */
export interface ClusterPrimaryOptions {
  /** `worker` (default): every series keeps a `worker` label; `aggregate`: one series per window, each family merged by its `cluster` aggregation. */
  mode?: ClusterMode
  /** How long a scrape waits for the workers' snapshots, ms, in [1, 600000]; a worker that has not answered by then is missing from that scrape (and counted). Default 500. */
  timeoutMs?: number
}

const PRIMARY_OPTIONS = new Set(['mode', 'timeoutMs'])

interface Round {
  readonly waiting: Set<number>
  readonly parts: (IngestedSnapshot | undefined)[]
  readonly missed: Map<number, MissReason>
  readonly finish: () => void
}

/**
 * The primary's side: assigns each worker a stable slot (0..N-1; a
 * respawned worker takes the lowest free slot, so it continues the series
 * of the one it replaces), answers the workers' scrape requests with the
 * merged snapshot of all workers, and carries each slot's counters across
 * process restarts. Created before the workers are forked (it sets the IPC
 * channel's `advanced` serialization, which carries typed arrays as bytes).
 */
export class ClusterPrimary {
  /** How the workers are presented: `worker` labels, or aggregated per family. */
  readonly mode: ClusterMode
  /** How long a scrape waits for the workers' snapshots, ms. */
  readonly timeoutMs: number
  private readonly merger: ClusterMerger
  /** The live worker of each slot. */
  private readonly slots: (Worker | null)[] = []
  private readonly slotOf = new Map<number, number>()
  /** Per slot: processes that held it (the first is not a restart). */
  private readonly held: number[] = []
  private readonly misses: Record<MissReason, number>[] = []
  private readonly rounds = new Map<number, Round>()
  private round = 0
  private closed = false
  private readonly onFork = (worker: Worker): void => {
    this.assign(worker)
  }
  private readonly onExit = (worker: Worker): void => {
    const slot = this.slotOf.get(worker.id)
    if (slot === undefined) return
    this.slotOf.delete(worker.id)
    if (this.slots[slot] === worker) this.slots[slot] = null
    for (const round of this.rounds.values()) {
      if (round.waiting.delete(slot)) {
        round.missed.set(slot, 'exited')
        if (round.waiting.size === 0) round.finish()
      }
    }
  }
  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (!isMessage(message)) return
    if (message[TAG] === 'snapshot') this.answer(worker, message.round, message.snapshot)
    else if (message[TAG] === 'scrape') this.serve(worker, message.id)
  }

  /** Use {@link createClusterPrimary}. */
  constructor(mode: ClusterMode, timeoutMs: number) {
    this.mode = mode
    this.timeoutMs = timeoutMs
    this.merger = new ClusterMerger(mode)
    cluster.setupPrimary({ serialization: 'advanced' })
    for (const worker of Object.values(cluster.workers ?? {})) if (worker !== undefined) this.assign(worker)
    cluster.on('fork', this.onFork)
    cluster.on('exit', this.onExit)
    cluster.on('message', this.onMessage)
  }

  /** Workers alive now, by slot (`null` where a slot has no process). */
  get workers(): readonly (Worker | null)[] {
    return this.slots.slice()
  }

  /** The slot of `worker`, if it has one. */
  slotOfWorker(worker: Worker): number | undefined {
    return this.slotOf.get(worker.id)
  }

  /**
   * Forks a worker into the lowest free slot, with the slot in its
   * environment ({@link SLOT_ENV}, read by {@link workerSlot}), so a
   * respawned worker can pick up its predecessor's role.
   *
   * @example
   * ```ts
   * const primary = createClusterPrimary()
   * for (let i = 0; i < 4; i++) primary.fork()
   * cluster.on('exit', () => primary.fork()) // respawn into the freed slot
   * ```
   */
  fork(env: Readonly<Record<string, string>> = {}): Worker {
    const slot = this.freeSlot()
    const worker = cluster.fork({ ...env, [SLOT_ENV]: String(slot) })
    this.assign(worker, slot)
    return worker
  }

  /** One merged snapshot of every worker, now (what a scrape serves). */
  collect(): Promise<StabilitySnapshot> {
    const id = ++this.round
    return new Promise<StabilitySnapshot>((resolve) => {
      const waiting = new Set<number>()
      let timer: ReturnType<typeof setTimeout> | undefined
      const round: Round = {
        waiting,
        parts: [],
        missed: new Map(),
        finish: () => {
          if (!this.rounds.delete(id)) return
          clearTimeout(timer)
          for (const slot of waiting) round.missed.set(slot, 'timeout')
          for (const [slot, reason] of round.missed) this.missesOf(slot)[reason]++
          resolve(this.merger.merge(round.parts, this.health(round.parts)))
        },
      }
      this.rounds.set(id, round)
      for (const [slot, worker] of this.slots.entries()) {
        if (!worker?.isConnected()) continue
        try {
          worker.send({ [TAG]: 'collect', round: id })
          waiting.add(slot)
        } catch {
          round.missed.set(slot, 'exited')
        }
      }
      if (waiting.size === 0) round.finish()
      else timer = setTimeout(round.finish, this.timeoutMs)
    })
  }

  /** Stops answering (removes the listeners); workers' scrapes then time out. */
  close(): void {
    if (this.closed) return
    this.closed = true
    cluster.off('fork', this.onFork)
    cluster.off('exit', this.onExit)
    cluster.off('message', this.onMessage)
    for (const round of [...this.rounds.values()]) round.finish()
  }

  private freeSlot(): number {
    const free = this.slots.indexOf(null)
    return free < 0 ? this.slots.length : free
  }

  private assign(worker: Worker, slot = this.freeSlot()): void {
    if (this.slotOf.has(worker.id)) return
    this.slotOf.set(worker.id, slot)
    this.slots[slot] = worker
    this.held[slot] = (this.held[slot] ?? 0) + 1
    this.missesOf(slot)
  }

  private missesOf(slot: number): Record<MissReason, number> {
    let m = this.misses[slot]
    if (m === undefined) {
      m = { timeout: 0, invalid: 0, exited: 0 }
      this.misses[slot] = m
    }
    return m
  }

  private answer(worker: Worker, id: number, snapshot: unknown): void {
    const slot = this.slotOf.get(worker.id)
    if (slot === undefined) return
    const round = this.rounds.get(id)
    if (workerSnapshotProblem(snapshot) !== null) {
      if (round?.waiting.delete(slot) === true) {
        round.missed.set(slot, 'invalid')
        if (round.waiting.size === 0) round.finish()
      } else this.missesOf(slot).invalid++
      return
    }
    // Taken in even when late: the slot's counters then stay up to date, in the order the worker sent them.
    const part = this.merger.ingest(slot, worker.id, snapshot as Parameters<ClusterMerger['ingest']>[2])
    if (round?.waiting.delete(slot) !== true) return
    round.parts[slot] = part
    if (round.waiting.size === 0) round.finish()
  }

  private serve(worker: Worker, id: number): void {
    this.collect().then(
      (merged) => {
        const histograms = merged.scoreHistograms === undefined ? undefined : histogramsToWire(merged.scoreHistograms, merged.size)
        const wire: MergedWire = {
          ...(histograms === undefined ? {} : { histograms }),
          size: merged.size,
          labelBytes: merged.labelBytes,
          labelEnds: merged.labelEnds,
          present: merged.present,
          values: merged.values,
          exporter: merged.exporterFamilies.map((e) => ({ suffix: e.spec.suffix, samples: e.samples })),
        }
        if (worker.isConnected()) worker.send({ [TAG]: 'merged', id, snapshot: wire })
      },
      (error: unknown) => {
        if (worker.isConnected()) worker.send({ [TAG]: 'failed', id, error: error instanceof Error ? error.message : String(error) })
      },
    )
  }

  private health(parts: readonly (IngestedSnapshot | undefined)[]): { spec: FamilySpec; samples: ExporterSample[] }[] {
    const [up, misses, restarts] = CLUSTER_FAMILIES
    const slots = this.misses.map((_m, slot) => slot)
    const label = (slot: number): readonly [string, string] => [WORKER_LABEL, String(slot)]
    return [
      { spec: up, samples: slots.map((slot) => ({ labels: [label(slot)], value: parts[slot] === undefined ? 0 : 1 })) },
      {
        spec: misses,
        samples: slots.flatMap((slot) => MISS_REASONS.map((reason) => ({ labels: [label(slot), ['reason', reason] as const], value: this.missesOf(slot)[reason] }))),
      },
      { spec: restarts, samples: slots.map((slot) => ({ labels: [label(slot)], value: Math.max(0, (this.held[slot] ?? 0) - 1) })) },
    ]
  }
}

/**
 * Creates the primary's side of a cluster scrape. Call it in the primary
 * before forking the workers.
 *
 * @throws {RangeError} when an option is invalid, or when called outside a cluster primary.
 * @example
 * ```ts
 * import cluster from 'node:cluster'
 * import { createClusterPrimary } from '@auris/prom-exporter/cluster'
 *
 * if (cluster.isPrimary) {
 *   const primary = createClusterPrimary({ mode: 'worker', timeoutMs: 500 })
 *   for (let i = 0; i < 4; i++) primary.fork()
 *   cluster.on('exit', () => primary.fork())
 * }
 * ```
 */
export function createClusterPrimary(options: ClusterPrimaryOptions = {}): ClusterPrimary {
  const owner = 'createClusterPrimary'
  if (typeof options !== 'object' || (options as unknown) === null) throw new RangeError(`${owner}: options must be an object`)
  for (const key of Object.keys(options)) if (!PRIMARY_OPTIONS.has(key)) throw new RangeError(`${owner}: unknown option "${key}"`)
  const mode: unknown = options.mode ?? 'worker'
  if (mode !== 'worker' && mode !== 'aggregate') throw new RangeError(`${owner}: option "mode" must be "worker" or "aggregate"; got ${JSON.stringify(mode)}`)
  const timeoutMs = options.timeoutMs ?? 500
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new RangeError(`${owner}: option "timeoutMs" must be an integer in [1, 600000] (ms); got ${String(timeoutMs)}`)
  }
  if (!cluster.isPrimary) throw new RangeError(`${owner}: call it in the cluster's primary process (cluster.isPrimary), not in a worker`)
  return new ClusterPrimary(mode, timeoutMs)
}

/** Options of {@link clusterWorkerSource}. */
export interface ClusterWorkerOptions {
  /** How long a scrape waits for the primary's merged snapshot, ms, in [1, 600000]. Default 5000 (the primary's own timeout should be shorter). */
  timeoutMs?: number
}

/**
 * The worker's side: answers the primary's requests with `exporter`'s
 * snapshot, and is a `MetricsSource` for `@auris/metrics-http` whose every
 * scrape serves the whole cluster (Prometheus text 0.0.4 or OpenMetrics,
 * rendered in slices that yield to the event loop).
 */
export class ClusterWorkerSource {
  /** The content type of {@link ClusterWorkerSource.metrics}: the Prometheus text format 0.0.4. */
  readonly contentType: string = PROMETHEUS_CONTENT_TYPE
  /** The formats {@link ClusterWorkerSource.expose} renders. */
  readonly formats: readonly ExpositionFormat[] = ['prometheus', 'openmetrics']
  /** Names of the families a cluster scrape exports (counters with their `_total`). */
  readonly familyNames: readonly string[]
  /** How long a scrape waits for the primary's merged snapshot, ms. */
  readonly timeoutMs: number
  private readonly layouts = new Map<ExpositionFormat, ExpositionLayout>()
  private readonly pending = new Map<number, { resolve: (s: MergedWire) => void; reject: (e: Error) => void }>()
  private next = 0
  private readonly exporterSpecs: readonly FamilySpec[] = CLUSTER_EXPORTER_FAMILIES
  private readonly onMessage = (message: unknown): void => {
    if (!isMessage(message)) return
    if (message[TAG] === 'collect') {
      process.send?.({ [TAG]: 'snapshot', round: message.round, snapshot: toWorkerSnapshot(this.exporter.snapshot()) })
    } else if (message[TAG] === 'merged' || message[TAG] === 'failed') {
      const waiter = this.pending.get(message.id)
      if (waiter === undefined) return
      this.pending.delete(message.id)
      if (message[TAG] === 'merged') waiter.resolve(message.snapshot)
      else waiter.reject(new Error(`cluster scrape failed in the primary: ${message.error}`))
    }
  }

  /** Use {@link clusterWorkerSource}. */
  constructor(
    private readonly exporter: StabilityExporter,
    timeoutMs: number,
  ) {
    this.timeoutMs = timeoutMs
    this.familyNames = [...WINDOW_FAMILIES, ...HISTOGRAM_FAMILIES, ...this.exporterSpecs].map((f) => `${exporter.prefix}${f.suffix}`)
    process.on('message', this.onMessage)
  }

  /** The exposition of the whole cluster as UTF-8 chunks, rendered in slices. */
  async *expose(format: ExpositionFormat = 'prometheus'): AsyncGenerator<Uint8Array, void, undefined> {
    const layout = this.layout(format)
    const wire = await this.request()
    const snapshot = this.snapshotOf(wire)
    yield* renderSnapshotSliced(layout, snapshot, new ChunkWriter())
  }

  /** The exposition of the whole cluster in the Prometheus text format. */
  async metrics(): Promise<string> {
    const chunks: Uint8Array[] = []
    for await (const chunk of this.expose('prometheus')) chunks.push(chunk)
    return fromUtf8(concatBytes(chunks))
  }

  /** Stops answering the primary and fails scrapes in flight. */
  close(): void {
    process.off('message', this.onMessage)
    for (const waiter of this.pending.values()) waiter.reject(new Error('cluster worker source closed'))
    this.pending.clear()
  }

  private layout(format: ExpositionFormat): ExpositionLayout {
    let layout = this.layouts.get(format)
    if (layout === undefined) {
      const asked: string = format
      if (asked !== 'prometheus' && asked !== 'openmetrics') throw new RangeError(`ClusterWorkerSource: format must be "prometheus" or "openmetrics"; got ${JSON.stringify(format)}`)
      layout = new ExpositionLayout(this.exporter.prefix, WINDOW_FAMILIES, this.exporterSpecs, this.exporter.constLabels, format)
      this.layouts.set(format, layout)
    }
    return layout
  }

  private request(): Promise<MergedWire> {
    const id = ++this.next
    return new Promise<MergedWire>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`the cluster primary did not answer within ${String(this.timeoutMs)} ms`))
      }, this.timeoutMs)
      this.pending.set(id, {
        resolve: (s) => {
          clearTimeout(timer)
          resolve(s)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      process.send?.({ [TAG]: 'scrape', id })
    })
  }

  private snapshotOf(wire: MergedWire): Omit<StabilitySnapshot, 'windows'> {
    const specs = new Map(this.exporterSpecs.map((s) => [s.suffix, s]))
    const scoreHistograms = histogramsFromWire(wire.histograms, wire.size)
    return {
      ...(scoreHistograms === undefined ? {} : { scoreHistograms }),
      size: wire.size,
      labelBytes: wire.labelBytes,
      labelEnds: wire.labelEnds,
      present: wire.present,
      values: wire.values,
      windowFamilies: WINDOW_FAMILIES,
      exporterFamilies: this.exporterSpecs.map((spec) => ({ spec, samples: wire.exporter.find((e) => specs.get(e.suffix) === spec)?.samples ?? [] })),
    }
  }
}

/**
 * Creates the worker's side of a cluster scrape for `exporter` (the
 * worker's own exporter, tracking its windows): serve it with
 * `@auris/metrics-http` in place of the exporter.
 *
 * @throws {RangeError} outside a cluster worker. The IPC channel must use
 *   `advanced` serialization, which {@link createClusterPrimary} sets for
 *   the workers forked after it: a worker forked before sends snapshots
 *   the primary cannot read (counted as `reason="invalid"` misses).
 * @example
 * ```ts
 * const exporter = createStabilityExporter()
 * exporter.track(windows)
 * app.route('/metrics/exp', metricsRoutes({ sources: clusterWorkerSource(exporter) }))
 * ```
 */
export function clusterWorkerSource(exporter: StabilityExporter, options: ClusterWorkerOptions = {}): ClusterWorkerSource {
  const owner = 'clusterWorkerSource'
  for (const key of Object.keys(options)) if (key !== 'timeoutMs') throw new RangeError(`${owner}: unknown option "${key}"`)
  const timeoutMs = options.timeoutMs ?? 5000
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new RangeError(`${owner}: option "timeoutMs" must be an integer in [1, 600000] (ms); got ${String(timeoutMs)}`)
  }
  if (exporter.constLabels.some(([name]) => name === WORKER_LABEL)) {
    throw new RangeError(`${owner}: the exporter's constLabels set "${WORKER_LABEL}", the label the cluster puts on every worker's series; rename that constant label`)
  }
  if (!cluster.isWorker || process.send === undefined) throw new RangeError(`${owner}: call it in a cluster worker (cluster.isWorker), not in the primary or a lone process`)
  return new ClusterWorkerSource(exporter, timeoutMs)
}
