import { MAX_SCORE_BUCKETS } from '@auris/stability-core'
import { REQUIRES } from './collector.js'
import { escapeLabelValue } from './format.js'
import { DEFAULT_PREFIX, EXPORTER_FAMILIES, WINDOW_FAMILIES, WINDOW_LABEL, type FamilySpec } from './names.js'
import { ExpositionLayout, checkConstLabels, renderChunks, type ExpositionFormat } from './render.js'
import type { ExporterSample, ScoreHistogramsSnapshot, StabilitySnapshot, WindowLabels } from './snapshot.js'
import { ChunkWriter, concatBytes, utf8 } from './writer.js'

/**
 * How a cluster merge presents the workers: `worker` keeps every worker's
 * series apart under a `worker` label (nothing is lost); `aggregate` folds
 * them into one series per window with each family's `cluster` aggregation
 * (the worst worker for gauges, the sum for counters).
 */
export type ClusterMode = 'worker' | 'aggregate'

/**
 * One worker's snapshot as it crosses the IPC channel: structured data, no
 * names and no constant labels (the primary and the rendering worker apply
 * those). `families` names the window families in the order of `values`, so
 * a primary refuses a worker of another version instead of misreading it.
 */
export interface WorkerSnapshot {
  /** Suffixes of the window families, in the order of `values`. */
  readonly families: readonly string[]
  /** Window ids, in row order. */
  readonly ids: readonly string[]
  /** Per window, its presence bits (which families have a sample). */
  readonly present: Uint8Array
  /** Window-major: `values[i * families.length + f]`. */
  readonly values: Float64Array
  /** The exporter-scope families' samples, by family suffix. */
  readonly exporter: readonly {
    /** The family's suffix (its name without the prefix). */
    readonly suffix: string
    /** Its samples, in exposition order. */
    readonly samples: readonly ExporterSample[]
  }[]
  /** The score histograms (absent: no window has one). */
  readonly histograms?: WorkerHistograms
}

/**
 * Score histograms in the form that crosses the IPC channel: each distinct
 * set of bucket bounds once, and per window the index of its set, so a
 * scrape of 100,000 windows sends a few bound lists, not 100,000.
 */
export interface WorkerHistograms {
  /** The distinct sets of bucket bounds (each strictly increasing and finite; `+Inf` implied). */
  readonly bounds: readonly (readonly number[])[]
  /** Per window: the index in `bounds` of its set, or -1 without a histogram. */
  readonly set: Int32Array
  /**
   * The histograms of the windows that have one, in row order, back to
   * back: per window `bounds[set[i]].length + 1` cumulative counts (`+Inf`
   * last), then the sum, then the count.
   */
  readonly values: Float64Array
}

/** The cluster's own families: whether each worker answered, what it missed, how often its slot was taken over. */
export const CLUSTER_FAMILIES = [
  {
    suffix: 'cluster_worker_up',
    type: 'gauge',
    scope: 'exporter',
    cluster: 'min',
    help: '1 when the worker slot answered this scrape in time, 0 when it was missing (no answer within the timeout, an invalid answer, or no live process in the slot).',
  },
  {
    suffix: 'cluster_worker_misses_total',
    type: 'counter',
    scope: 'exporter',
    cluster: 'sum',
    help: 'Scrapes a worker slot did not answer, by reason: timeout (no answer within the timeout), invalid (an answer that was not a snapshot), exited (the process ended during the scrape).',
  },
  {
    suffix: 'cluster_worker_restarts_total',
    type: 'counter',
    scope: 'exporter',
    cluster: 'sum',
    help: 'Times a new process took over the worker slot after the previous one exited (restarts).',
  },
] as const satisfies readonly FamilySpec[]

/** Why a worker slot is missing from a scrape. */
export type MissReason = 'timeout' | 'invalid' | 'exited'
/** Every {@link MissReason}, in the order `atlas_cluster_worker_misses_total` lists them. */
export const MISS_REASONS: readonly MissReason[] = ['timeout', 'invalid', 'exited']

/** The label the `worker` mode adds; its value is the worker's slot, 0..N-1. */
export const WORKER_LABEL = 'worker'

/** Answered scrapes after which a window no worker exports any more is forgotten (its counters then restart if it comes back). */
export const FORGET_AFTER = 60

const F = WINDOW_FAMILIES.length
const FAMILY_KEY = WINDOW_FAMILIES.map((f) => f.suffix).join(',')
/** Indices in `WINDOW_FAMILIES` of the counter families: those are carried across process restarts. */
const COUNTERS: readonly number[] = WINDOW_FAMILIES.flatMap((f, i) => (f.type === 'counter' ? [i] : []))
const C = COUNTERS.length
const EXPORTER_BY_SUFFIX = new Map<string, FamilySpec>(EXPORTER_FAMILIES.map((f) => [f.suffix, f]))
// `windows` counts the windows of the exposition it is in: in aggregate mode that is the merged
// windows, not the sum over workers (4 workers of 2 windows export 2 series, not 8).
const WINDOWS_SUFFIX = 'windows'

/**
 * A snapshot's structured form for the IPC channel (what a worker sends).
 *
 * @example
 * ```ts
 * process.send?.({ snapshot: toWorkerSnapshot(exporter.snapshot()) })
 * ```
 */
export function toWorkerSnapshot(snapshot: StabilitySnapshot): WorkerSnapshot {
  const histograms = snapshot.scoreHistograms === undefined ? undefined : histogramsToWire(snapshot.scoreHistograms, snapshot.size)
  return {
    families: snapshot.windowFamilies.map((f) => f.suffix),
    ids: snapshot.windows.map((w) => w.id),
    present: snapshot.present,
    values: snapshot.values,
    exporter: snapshot.exporterFamilies.map((e) => ({ suffix: e.spec.suffix, samples: e.samples })),
    ...(histograms === undefined ? {} : { histograms }),
  }
}

/**
 * A snapshot's score histograms in their IPC form ({@link WorkerHistograms}),
 * or undefined when none of the `size` windows has one.
 *
 * @example
 * ```ts
 * const wire = histogramsToWire(snapshot.scoreHistograms, snapshot.size)
 * ```
 */
export function histogramsToWire(h: ScoreHistogramsSnapshot, size: number): WorkerHistograms | undefined {
  const bounds: (readonly number[])[] = []
  // Windows usually share their bound arrays: look them up by identity, and by content only once per array.
  const byArray = new Map<readonly number[], number>()
  const byKey = new Map<string, number>()
  const set = new Int32Array(size)
  let length = 0
  for (let i = 0; i < size; i++) {
    const b = (h.at[i] as number) < 0 ? null : h.bounds[i] ?? null
    if (b === null) {
      set[i] = -1
      continue
    }
    let k = byArray.get(b)
    if (k === undefined) {
      const key = b.join(',')
      k = byKey.get(key)
      if (k === undefined) {
        k = bounds.length
        bounds.push(b)
        byKey.set(key, k)
      }
      byArray.set(b, k)
    }
    set[i] = k
    length += b.length + 3
  }
  if (bounds.length === 0) return undefined
  const values = new Float64Array(length)
  let at = 0
  for (let i = 0; i < size; i++) {
    const k = set[i] as number
    if (k < 0) continue
    const n = (bounds[k] as readonly number[]).length + 3
    const from = h.at[i] as number
    values.set(h.values.subarray(from, from + n), at)
    at += n
  }
  return { bounds, set, values }
}

/**
 * The `ScoreHistogramsSnapshot` of histograms in their IPC form, for
 * `size` windows (undefined stays undefined).
 *
 * @example
 * ```ts
 * const scoreHistograms = histogramsFromWire(wire.histograms, wire.size)
 * ```
 */
export function histogramsFromWire(wire: WorkerHistograms | undefined, size: number): ScoreHistogramsSnapshot | undefined {
  if (wire === undefined) return undefined
  const at = new Int32Array(size)
  const bounds = new Array<readonly number[] | null>(size)
  let offset = 0
  for (let i = 0; i < size; i++) {
    const k = wire.set[i] as number
    const b = k < 0 ? undefined : wire.bounds[k]
    if (b === undefined) {
      at[i] = -1
      bounds[i] = null
      continue
    }
    at[i] = offset
    bounds[i] = b
    offset += b.length + 3
  }
  return { at, bounds, values: wire.values }
}

/** Why `h` is not a valid {@link WorkerHistograms} for `windows` windows, or null. */
function histogramsProblem(h: unknown, windows: number): string | null {
  if (typeof h !== 'object' || h === null) return 'histograms is not an object'
  const { bounds, set, values } = h as Partial<WorkerHistograms>
  if (!Array.isArray(bounds) || bounds.length > windows) return 'histogram bounds are not an array of at most one set per window'
  for (const b of bounds as unknown[]) {
    if (!Array.isArray(b) || b.length === 0 || b.length > MAX_SCORE_BUCKETS) return `histogram bounds are not 1 to ${String(MAX_SCORE_BUCKETS)} numbers`
    let previous = -Infinity
    for (const x of b as unknown[]) {
      if (typeof x !== 'number' || !Number.isFinite(x) || !(x > previous)) return 'histogram bounds are not finite and strictly increasing'
      previous = x
    }
  }
  if (!(set instanceof Int32Array) || set.length !== windows) return 'histogram set is not an Int32Array of one entry per window'
  let length = 0
  for (const k of set) {
    if (k < -1 || k >= bounds.length) return 'histogram set names a bound set that does not exist'
    if (k >= 0) length += (bounds[k] as readonly number[]).length + 3
  }
  if (!(values instanceof Float64Array) || values.length !== length) return 'histogram values are not a Float64Array of one histogram per window that has one'
  let at = 0
  for (const k of set) {
    if (k < 0) continue
    const n = (bounds[k] as readonly number[]).length
    // Cumulative counts: non-negative, never lower than the bucket before, the last (+Inf) equal to the count.
    let previous = 0
    for (let b = 0; b <= n; b++) {
      const c = values[at + b] as number
      if (!Number.isFinite(c) || c < previous) return 'histogram counts are not finite, non-negative and cumulative'
      previous = c
    }
    const sum = values[at + n + 1] as number
    if (!Number.isFinite(sum) || values[at + n + 2] !== previous) return 'histogram sum is not finite, or the count is not the +Inf bucket'
    at += n + 3
  }
  return null
}

/**
 * Why `value` is not a {@link WorkerSnapshot} of this version, or null when it is one.
 *
 * @example
 * ```ts
 * workerSnapshotProblem(null) // 'not an object'
 * ```
 */
export function workerSnapshotProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const s = value as Partial<WorkerSnapshot>
  if (!Array.isArray(s.families) || s.families.join(',') !== FAMILY_KEY) return 'families differ from this version\'s'
  if (!Array.isArray(s.ids) || !s.ids.every((id) => typeof id === 'string')) return 'ids are not strings'
  if (!(s.present instanceof Uint8Array) || s.present.length !== s.ids.length) return 'present is not a Uint8Array of one byte per window'
  if (!(s.values instanceof Float64Array) || s.values.length !== s.ids.length * F) return 'values is not a Float64Array of one row per window'
  if (!Array.isArray(s.exporter)) return 'exporter families missing'
  for (const e of s.exporter as unknown[]) {
    const fam = e as { suffix?: unknown; samples?: unknown }
    if (typeof fam.suffix !== 'string' || !Array.isArray(fam.samples)) return 'exporter family malformed'
    for (const sample of fam.samples as unknown[]) {
      const x = sample as { labels?: unknown; value?: unknown }
      if (typeof x.value !== 'number' || !Array.isArray(x.labels)) return 'exporter sample malformed'
      for (const pair of x.labels as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return 'exporter sample labels malformed'
      }
    }
  }
  if (s.histograms !== undefined) return histogramsProblem(s.histograms, s.ids.length)
  return null
}

/** A counter as one slot exports it: what earlier processes of the slot counted, plus the current process's last reading. */
class CarriedCounter {
  base = 0
  last = 0

  /** Takes the current process's reading; returns the value to export (never lower than an earlier one). */
  read(raw: number): number {
    // A reading below the previous one within one process: its exporter forgot the series (an
    // evicted window that came back); carry what it had counted.
    if (raw < this.last) this.base += this.last
    this.last = raw
    return this.base + raw
  }

  /** A new process took over the slot: what the old one exported last is kept. */
  handOver(): void {
    this.base += this.last
    this.last = 0
  }

  get total(): number {
    return this.base + this.last
  }
}

/**
 * A slot's score histogram of one window, carried like {@link CarriedCounter}
 * but as a whole: counts, sum and count move together, so the exported
 * buckets stay cumulative.
 */
class CarriedHistogram {
  // Plain arrays, not typed arrays: one buffer per window and slot would be as many objects for the
  // garbage collector to track (see the collector's records).
  /** What the slot's earlier processes (and earlier readings that went back) counted. */
  private base: number[]
  /** The current process's last reading. */
  private last: number[]

  constructor(public bounds: readonly number[]) {
    this.base = new Array<number>(bounds.length + 3).fill(0)
    this.last = new Array<number>(bounds.length + 3).fill(0)
  }

  /** Takes the current process's reading at `values[at …]` and writes the values to export in its place. */
  read(bounds: readonly number[], values: Float64Array, at: number): void {
    if (bounds !== this.bounds) {
      // The same bounds in another array (the merger's table of bound sets was cleared): nothing to rebase.
      if (sameBounds(bounds, this.bounds)) this.bounds = bounds
      else this.rebase(bounds)
    }
    const { base, last } = this
    const n = base.length
    let back = false
    for (let k = 0; k < n; k++) if ((values[at + k] as number) < (last[k] as number)) back = true
    for (let k = 0; k < n; k++) {
      // A reading that went back (the worker forgot the window): carry the whole previous reading.
      if (back) base[k] = (base[k] as number) + (last[k] as number)
      last[k] = values[at + k] as number
      values[at + k] = (base[k] as number) + (last[k] as number)
    }
  }

  /** A new process took over the slot: what the old one exported last is kept. */
  handOver(): void {
    for (let k = 0; k < this.base.length; k++) this.base[k] = (this.base[k] as number) + (this.last[k] as number)
    this.last.fill(0)
  }

  /** Value `k` (a cumulative count, then the sum, then the count) as exported now. */
  total(k: number): number {
    return (this.base[k] as number) + (this.last[k] as number)
  }

  /**
   * Other bounds (a process configured otherwise): each new bound starts
   * from what was counted at or below it under the old bounds (exact for a
   * bound in both sets, a lower bound for a new one, cumulative either
   * way), and `+Inf`, the sum and the count carry whole, so no series
   * that continues ever goes down.
   */
  private rebase(bounds: readonly number[]): void {
    const old = this.bounds
    const n = bounds.length
    const base = new Array<number>(n + 3).fill(0)
    let j = -1
    for (let b = 0; b < n; b++) {
      while (j + 1 < old.length && (old[j + 1] as number) <= (bounds[b] as number)) j++
      base[b] = j < 0 ? 0 : this.total(j)
    }
    for (let k = 0; k < 3; k++) base[n + k] = this.total(old.length + k)
    this.bounds = bounds
    this.base = base
    this.last = new Array<number>(n + 3).fill(0)
  }
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false
  return true
}

/** One window id across the cluster. */
class WindowState implements ClusterWindow {
  /** `window_id="…"`, UTF-8. */
  readonly label: Uint8Array
  /** Per slot: the slot's carried counters for this window (COUNTERS order). */
  readonly cells: (CarriedCounter[] | undefined)[] = []
  /** Per slot: the slot's carried score histogram of this window. */
  readonly histograms: (CarriedHistogram | undefined)[] = []
  /** Per slot, in worker mode: the window's labels with the slot's (made once). */
  private readonly perWorker: (WindowLabels | undefined)[] = []
  readonly own: WindowLabels
  /** Merge in which the window was last seen, and its row there. */
  round = -1
  row = 0
  absent = 0

  constructor(readonly id: string) {
    this.label = utf8(`${WINDOW_LABEL}="${escapeLabelValue(id)}"`)
    this.own = { id, labels: { [WINDOW_LABEL]: id } }
  }

  cell(slot: number): CarriedCounter[] {
    let cell = this.cells[slot]
    if (cell === undefined) {
      cell = Array.from({ length: C }, () => new CarriedCounter())
      this.cells[slot] = cell
    }
    return cell
  }

  histogram(slot: number, bounds: readonly number[]): CarriedHistogram {
    let h = this.histograms[slot]
    if (h === undefined) {
      h = new CarriedHistogram(bounds)
      this.histograms[slot] = h
    }
    return h
  }

  labels(slot: number, workerLabel: string): WindowLabels {
    let labels = this.perWorker[slot]
    if (labels === undefined) {
      labels = { id: this.id, labels: { [WINDOW_LABEL]: this.id, [workerLabel]: String(slot) } }
      this.perWorker[slot] = labels
    }
    return labels
  }
}

/** One slot (worker position) of the cluster. */
class SlotState {
  /** The process whose readings the slot holds (an id the primary gives it, e.g. the worker id). */
  process: number | null = null
  /** Exporter-scope counters by family and label set. */
  readonly counters = new Map<string, CarriedCounter>()
  /** `,worker="k"`, UTF-8. */
  readonly suffix: Uint8Array
  readonly pair: readonly [string, string]

  constructor(slot: number, workerLabel: string) {
    this.suffix = utf8(`,${workerLabel}="${String(slot)}"`)
    this.pair = [workerLabel, String(slot)]
  }
}

/** A worker snapshot taken in by {@link ClusterMerger.ingest}: its counters are the values to export. */
export interface IngestedSnapshot {
  /** The worker slot it came from. */
  readonly slot: number
  /** Per window, its presence bits. */
  readonly present: Uint8Array
  /** Window-major values, counters replaced by the values to export. */
  readonly values: Float64Array
  /** The merger's record of each window, in row order. */
  readonly windows: readonly ClusterWindow[]
  /** The exporter-scope families, counters replaced by the values to export. */
  readonly exporter: readonly {
    /** The family. */
    readonly spec: FamilySpec
    /** Its samples, in exposition order. */
    readonly samples: readonly ExporterSample[]
  }[]
  /** The score histograms, values replaced by the values to export (absent: none). */
  readonly histograms?: WorkerHistograms
}

/** A window as a {@link ClusterMerger} knows it across the cluster. */
export interface ClusterWindow {
  /** The window id. */
  readonly id: string
}

const labelKey = (suffix: string, labels: readonly (readonly [string, string])[]): string => `${suffix}\u0000${labels.map(([n, v]) => `${n}\u0001${v}`).join('\u0000')}`

function combine(how: FamilySpec['cluster'], a: number, b: number): number {
  return how === 'sum' ? a + b : how === 'min' ? (b < a ? b : a) : b > a ? b : a
}

/**
 * Merges the snapshots of a cluster's workers into one snapshot, the
 * primary's side of a cluster scrape. Generic over the family tables:
 * every window family of `WINDOW_FAMILIES` and exporter family of
 * `EXPORTER_FAMILIES` is merged by its type and `cluster`
 * aggregation, so a new family needs no change here. The score
 * histograms merge too: per worker in `worker` mode (`le` after the
 * `worker` label), summed per window in `aggregate` mode over the bounds
 * every worker of the window has (all of them when they agree).
 *
 * Counters and histograms never decrease across scrapes, also when a worker's process
 * dies and another takes its slot: each slot carries what its earlier
 * processes exported last and adds the new process's counts
 * ({@link ClusterMerger.ingest} takes the process id with each snapshot).
 * Events a dead process counted after the last scrape that reached the
 * primary are lost; nothing counted is ever taken back.
 *
 * @example
 * ```ts
 * const merger = new ClusterMerger('aggregate')
 * const parts = snapshots.map((s, slot) => merger.ingest(slot, pids[slot], toWorkerSnapshot(s)))
 * const merged = merger.merge(parts)
 * ```
 */
export class ClusterMerger {
  private readonly windows = new Map<string, WindowState>()
  /** The window records of each snapshot this merger took in (its public `windows`, typed as records). */
  private readonly rows = new WeakMap<IngestedSnapshot, readonly WindowState[]>()
  private readonly slots: SlotState[] = []
  /** One array per distinct set of histogram bounds, so a window's carry recognises its bounds by identity. */
  private readonly boundSets = new Map<string, readonly number[]>()
  private round = 0

  /** How the workers are presented (see {@link ClusterMode}). */
  readonly mode: ClusterMode
  /** The label that carries the worker slot in `worker` mode. */
  readonly workerLabel: string

  /**
   * @param mode - `worker` (default) or `aggregate`.
   * @param workerLabel - the label of the worker slot (default `worker`).
   * @throws {RangeError} when `mode` is neither.
   */
  constructor(mode: ClusterMode = 'worker', workerLabel: string = WORKER_LABEL) {
    this.mode = mode
    this.workerLabel = workerLabel
    const modeText: string = mode
    if (modeText !== 'worker' && modeText !== 'aggregate') throw new RangeError(`ClusterMerger: option "mode" must be "worker" or "aggregate"; got ${JSON.stringify(mode)}`)
  }

  /** Slots that have sent a snapshot so far. */
  get slotCount(): number {
    return this.slots.length
  }

  private slot(slot: number): SlotState {
    for (let s = this.slots.length; s <= slot; s++) this.slots.push(new SlotState(s, this.workerLabel))
    return this.slots[slot] as SlotState
  }

  /**
   * Takes one worker's snapshot for `slot` from process `process`: a
   * process other than the slot's previous one hands the slot's counters
   * over first. The snapshot's counter values are replaced by the values
   * to export (its arrays are reused, not copied).
   *
   * @throws {RangeError} when `snapshot` is not a snapshot of this version (check with {@link workerSnapshotProblem} first).
   */
  ingest(slot: number, process: number, snapshot: WorkerSnapshot): IngestedSnapshot {
    const problem = workerSnapshotProblem(snapshot)
    if (problem !== null) throw new RangeError(`ClusterMerger.ingest: not a worker snapshot: ${problem}`)
    if (!Number.isInteger(slot) || slot < 0 || slot > 65_535) throw new RangeError(`ClusterMerger.ingest: "slot" must be an integer in [0, 65535]; got ${String(slot)}`)
    const state = this.slot(slot)
    if (state.process !== null && state.process !== process) {
      for (const w of this.windows.values()) {
        for (const c of w.cells[slot] ?? []) c.handOver()
        w.histograms[slot]?.handOver()
      }
      for (const c of state.counters.values()) c.handOver()
    }
    state.process = process
    const { ids, present, values } = snapshot
    const windows = new Array<WindowState>(ids.length)
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string
      let w = this.windows.get(id)
      if (w === undefined) {
        w = new WindowState(id)
        this.windows.set(id, w)
      }
      windows[i] = w
      const cell = w.cell(slot)
      const bits = present[i] as number
      for (let k = 0; k < C; k++) {
        const f = COUNTERS[k] as number
        const required = REQUIRES[f] as number
        if ((bits & required) !== required) continue
        values[i * F + f] = (cell[k] as CarriedCounter).read(values[i * F + f] as number)
      }
    }
    const exporter: IngestedSnapshot['exporter'][number][] = []
    for (const e of snapshot.exporter) {
      const spec = EXPORTER_BY_SUFFIX.get(e.suffix)
      if (spec === undefined) continue
      if (spec.type !== 'counter') {
        exporter.push({ spec, samples: e.samples })
        continue
      }
      exporter.push({
        spec,
        samples: e.samples.map((s) => {
          const key = labelKey(e.suffix, s.labels)
          let c = state.counters.get(key)
          if (c === undefined) {
            c = new CarriedCounter()
            state.counters.set(key, c)
          }
          return { labels: s.labels, value: c.read(s.value) }
        }),
      })
    }
    const histograms = snapshot.histograms === undefined ? undefined : this.ingestHistograms(slot, snapshot.histograms, windows)
    const ingested: IngestedSnapshot = { slot, present, values, windows, exporter, ...(histograms === undefined ? {} : { histograms }) }
    this.rows.set(ingested, windows)
    return ingested
  }

  private ingestHistograms(slot: number, h: WorkerHistograms, windows: readonly WindowState[]): WorkerHistograms {
    const bounds = h.bounds.map((b) => this.boundSet(b))
    let at = 0
    for (let i = 0; i < windows.length; i++) {
      const k = h.set[i] as number
      if (k < 0) continue
      const b = bounds[k] as readonly number[]
      ;(windows[i] as WindowState).histogram(slot, b).read(b, h.values, at)
      at += b.length + 3
    }
    return { bounds, set: h.set, values: h.values }
  }

  private boundSet(bounds: readonly number[]): readonly number[] {
    const key = bounds.join(',')
    let known = this.boundSets.get(key)
    if (known === undefined) {
      // A cluster has a handful of bucket layouts; a stream of new ones only costs identity hits.
      if (this.boundSets.size >= 1024) this.boundSets.clear()
      known = Object.freeze(bounds.slice())
      this.boundSets.set(key, known)
    }
    return known
  }

  /**
   * One snapshot of the cluster from the snapshots of the slots that
   * answered (by slot; `undefined` for a slot that did not), with `extra`
   * exporter-scope families (the cluster's own) after the others. In
   * aggregate mode the counters of slots that did not answer, and of
   * processes that are gone, still count, so the sums never decrease.
   */
  merge(parts: readonly (IngestedSnapshot | undefined)[], extra: readonly { readonly spec: FamilySpec; readonly samples: readonly ExporterSample[] }[] = []): StabilitySnapshot {
    const round = ++this.round
    const answered = parts.filter((p): p is IngestedSnapshot => p !== undefined)
    const merged = this.mode === 'worker' ? this.byWorker(answered, round) : this.aggregate(answered, round)
    this.sweep(round)
    return { ...merged, exporterFamilies: [...merged.exporterFamilies, ...extra] }
  }

  private rowsOf(part: IngestedSnapshot): readonly WindowState[] {
    const rows = this.rows.get(part)
    if (rows === undefined) throw new RangeError('ClusterMerger.merge: a part was not taken in by this merger\'s ingest()')
    return rows
  }

  /** Forgets windows no answered snapshot has had for {@link FORGET_AFTER} merges. */
  private sweep(round: number): void {
    for (const [id, w] of this.windows) {
      if (w.round === round) w.absent = 0
      else if (++w.absent > FORGET_AFTER) this.windows.delete(id)
    }
  }

  private byWorker(parts: readonly IngestedSnapshot[], round: number): StabilitySnapshot {
    let size = 0
    let labelSize = 0
    for (const p of parts) {
      size += p.windows.length
      const suffix = this.slot(p.slot).suffix.length
      for (const w of this.rowsOf(p)) labelSize += w.label.length + suffix
    }
    const windows = new Array<WindowLabels>(size)
    const present = new Uint8Array(size)
    const values = new Float64Array(size * F)
    const labelBytes = new Uint8Array(labelSize)
    const labelEnds = new Uint32Array(size)
    let histLength = 0
    for (const p of parts) histLength += p.histograms?.values.length ?? 0
    const hist = histLength === 0 ? undefined : { at: new Int32Array(size).fill(-1), bounds: new Array<readonly number[] | null>(size).fill(null), values: new Float64Array(histLength) }
    let histAt = 0
    let row = 0
    let at = 0
    for (const p of parts) {
      const suffix = this.slot(p.slot).suffix
      present.set(p.present, row)
      values.set(p.values, row * F)
      const h = p.histograms
      if (hist !== undefined && h !== undefined) {
        hist.values.set(h.values, histAt)
        for (let i = 0; i < p.windows.length; i++) {
          const k = h.set[i] as number
          if (k < 0) continue
          const b = h.bounds[k] as readonly number[]
          hist.at[row + i] = histAt
          hist.bounds[row + i] = b
          histAt += b.length + 3
        }
      }
      for (const w of this.rowsOf(p)) {
        w.round = round
        windows[row] = w.labels(p.slot, this.workerLabel)
        labelBytes.set(w.label, at)
        at += w.label.length
        labelBytes.set(suffix, at)
        at += suffix.length
        labelEnds[row++] = at
      }
    }
    const exporterFamilies = EXPORTER_FAMILIES.map((spec) => ({
      spec,
      samples: parts.flatMap((p) => {
        const pair = this.slot(p.slot).pair
        return (p.exporter.find((e) => e.spec === spec)?.samples ?? []).map((s) => ({ labels: [...s.labels, pair], value: s.value }))
      }),
    }))
    return { size, windows, labelBytes, labelEnds, present, values, windowFamilies: WINDOW_FAMILIES, exporterFamilies, ...(hist === undefined ? {} : { scoreHistograms: hist }) }
  }

  private aggregate(parts: readonly IngestedSnapshot[], round: number): StabilitySnapshot {
    // Rows in the order windows first appear, slot by slot.
    const order: WindowState[] = []
    for (const p of parts) {
      for (const w of this.rowsOf(p)) {
        if (w.round === round) continue
        w.round = round
        w.row = order.length
        order.push(w)
      }
    }
    const size = order.length
    const present = new Uint8Array(size)
    const values = new Float64Array(size * F)
    // Whether a gauge cell has a value yet (the first contributor sets it, the others combine).
    const has = new Uint8Array(size * F)
    for (const p of parts) {
      const rows = this.rowsOf(p)
      for (let i = 0; i < rows.length; i++) {
        const row = (rows[i] as WindowState).row
        const bits = p.present[i] as number
        present[row] = (present[row] as number) | bits
        for (let f = 0; f < F; f++) {
          const spec = WINDOW_FAMILIES[f] as FamilySpec
          if (spec.type === 'counter') continue
          const required = REQUIRES[f] as number
          if ((bits & required) !== required) continue
          const v = p.values[i * F + f] as number
          const at = row * F + f
          if (has[at] === 0) {
            values[at] = v
            has[at] = 1
          } else values[at] = combine(spec.cluster, values[at] as number, v)
        }
      }
    }
    // Counters: every slot that ever exported the window counts, answered now or not, alive or not.
    for (const w of order) {
      const base = w.row * F
      for (let k = 0; k < C; k++) {
        const f = COUNTERS[k] as number
        const how = (WINDOW_FAMILIES[f] as FamilySpec).cluster
        let total: number | undefined
        for (const cell of w.cells) {
          if (cell === undefined) continue
          const v = (cell[k] as CarriedCounter).total
          total = total === undefined ? v : combine(how, total, v)
        }
        values[base + f] = total ?? 0
      }
    }
    let labelSize = 0
    for (const w of order) labelSize += w.label.length
    const labelBytes = new Uint8Array(labelSize)
    const labelEnds = new Uint32Array(size)
    let at = 0
    for (let row = 0; row < size; row++) {
      const w = order[row] as WindowState
      labelBytes.set(w.label, at)
      at += w.label.length
      labelEnds[row] = at
    }
    const exporterFamilies = EXPORTER_FAMILIES.map((spec) => ({ spec, samples: this.aggregateExporter(spec, parts, size) }))
    const scoreHistograms = aggregateHistograms(order)
    return { size, windows: order.map((w) => w.own), labelBytes, labelEnds, present, values, windowFamilies: WINDOW_FAMILIES, exporterFamilies, ...(scoreHistograms === undefined ? {} : { scoreHistograms }) }
  }

  private aggregateExporter(spec: FamilySpec, parts: readonly IngestedSnapshot[], size: number): ExporterSample[] {
    if (spec.suffix === WINDOWS_SUFFIX && spec.scope === 'exporter') return [{ labels: [], value: size }]
    const out = new Map<string, { labels: readonly (readonly [string, string])[]; value: number }>()
    for (const p of parts) {
      for (const s of p.exporter.find((e) => e.spec === spec)?.samples ?? []) {
        const key = labelKey(spec.suffix, s.labels)
        const seen = out.get(key)
        if (seen === undefined) out.set(key, { labels: s.labels, value: s.value })
        else if (spec.type !== 'counter') seen.value = combine(spec.cluster, seen.value, s.value)
      }
    }
    if (spec.type === 'counter') {
      // Every slot's carried total, answered now or not.
      for (const [key, sample] of out) {
        let total: number | undefined
        for (const slot of this.slots) {
          const c = slot.counters.get(key)
          if (c !== undefined) total = total === undefined ? c.total : combine(spec.cluster, total, c.total)
        }
        sample.value = total ?? sample.value
      }
    }
    return [...out.values()]
  }
}

/**
 * The bounds of a window's aggregated histogram: the slots' bounds when
 * they agree, else the bounds every slot has (the one set whose buckets
 * add up exactly; `+Inf`, the sum and the count always do). Null without
 * a histogram.
 */
function aggregateBounds(w: WindowState): readonly number[] | null {
  let first: readonly number[] | null = null
  let agree = true
  for (const h of w.histograms) {
    if (h === undefined) continue
    if (first === null) first = h.bounds
    else if (!sameBounds(first, h.bounds)) agree = false
  }
  if (first === null || agree) return first
  return first.filter((x) => w.histograms.every((h) => h === undefined || h.bounds.includes(x)))
}

/** Per window, the sum over every slot that ever exported its histogram (answered now or not, alive or not). */
function aggregateHistograms(order: readonly WindowState[]): ScoreHistogramsSnapshot | undefined {
  const size = order.length
  const at = new Int32Array(size).fill(-1)
  const bounds = new Array<readonly number[] | null>(size)
  let length = 0
  for (let row = 0; row < size; row++) {
    const b = aggregateBounds(order[row] as WindowState)
    bounds[row] = b
    if (b === null) continue
    at[row] = length
    length += b.length + 3
  }
  if (length === 0) return undefined
  const values = new Float64Array(length)
  for (let row = 0; row < size; row++) {
    const b = bounds[row]
    if (b === null || b === undefined) continue
    const base = at[row] as number
    for (const h of (order[row] as WindowState).histograms) {
      if (h === undefined) continue
      const own = h.bounds
      if (own === b || sameBounds(own, b)) {
        for (let k = 0; k < b.length + 3; k++) values[base + k] = (values[base + k] as number) + h.total(k)
        continue
      }
      for (let k = 0; k < b.length; k++) values[base + k] = (values[base + k] as number) + h.total(own.indexOf(b[k] as number))
      for (let k = 0; k < 3; k++) values[base + b.length + k] = (values[base + b.length + k] as number) + h.total(own.length + k)
    }
  }
  return { at, bounds, values }
}

/** The exporter-scope families of a cluster exposition: the exporter's, then the cluster's own. */
export const CLUSTER_EXPORTER_FAMILIES: readonly FamilySpec[] = [...EXPORTER_FAMILIES, ...CLUSTER_FAMILIES]

/**
 * The layout of a cluster exposition (window families, the exporter's and
 * the cluster's families) for a prefix, constant labels and a format.
 *
 * @throws {RangeError} when a constant label is invalid or is `worker`.
 * @example
 * ```ts
 * const layout = clusterLayout('openmetrics', 'atlas_', { service: 'fab' })
 * ```
 */
export function clusterLayout(format: ExpositionFormat = 'prometheus', prefix: string = DEFAULT_PREFIX, constLabels: Readonly<Record<string, string>> = {}): ExpositionLayout {
  const pairs = checkConstLabels('clusterLayout', constLabels)
  if (pairs.some(([name]) => name === WORKER_LABEL)) throw new RangeError(`clusterLayout: option "constLabels" may not set "${WORKER_LABEL}": the cluster sets it on every worker's series`)
  return new ExpositionLayout(prefix, WINDOW_FAMILIES, CLUSTER_EXPORTER_FAMILIES, pairs, format)
}

/**
 * A merged snapshot ({@link ClusterMerger.merge}) rendered in one pass, as
 * UTF-8 bytes (the worker that accepted the scrape renders in slices instead).
 *
 * @example
 * ```ts
 * const text = new TextDecoder().decode(renderCluster(clusterLayout('openmetrics'), merger.merge(parts)))
 * ```
 */
export function renderCluster(layout: ExpositionLayout, snapshot: Omit<StabilitySnapshot, 'windows'>): Uint8Array {
  return concatBytes(renderChunks(layout, snapshot, new ChunkWriter()))
}
