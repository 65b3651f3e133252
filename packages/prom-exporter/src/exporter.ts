import { MODE_TO_NUMERIC, StabilityWindows, windowIdProblem, type Hysteresis, type StabilityTracker } from '@auris/stability-core'
import { Registry, type Metric, type RegistryContentType } from 'prom-client'
import { escapeHelp, escapeLabelValue, formatLabels } from './format.js'
import { ByteWriter, utf8 } from './writer.js'
import { DEFAULT_PREFIX, FAMILIES, REASON_LABEL, WINDOW_LABEL, metricNames, type FamilySpec, type FamilySuffix, type MetricNames } from './names.js'

/** Options of {@link createStabilityExporter}. */
export interface StabilityExporterOptions {
  /** prom-client registry to register on. Default: a new one (never the global registry). */
  registry?: Registry<RegistryContentType>
  /** Metric name prefix. Default `atlas_`, the reference's. */
  prefix?: string
  /** Most windows accepted through `update()`/`updateHysteresis()`; a new id beyond is refused and counted. Integer in [1, 1e6]. Default 1000. */
  maxWindows?: number
}

/** Why a window id was turned away. */
export type RejectionReason = 'invalid_id' | 'capacity' | 'duplicate'

/** One window as the exporter last saw it. */
interface WindowRecord {
  readonly id: string
  /** `{window_id="…"}`, escaped once. */
  readonly labels: string
  /** The same, as UTF-8 bytes for the renderer. */
  readonly labelBytes: Uint8Array
  /** Collection in which the record was last filled. */
  generation: number
  hasTracker: boolean
  score: number
  ema: number
  eventsPerHour: number
  mode: number
  stable: number
  cooldown: number
  degradations: Counter
  invalid: Counter
  clamped: Counter
  hasFilter: boolean
  effective: number
  desired: number
  dwell: number
  /** NaN before the first switch: the sample is then left out. */
  switchAge: number
  switches: Counter
  oscillations: Counter
  switchRate: number
  oscillationRate: number
}

/**
 * A counter fed from a source that may go backwards (a tracker replaced by
 * a fresh one): a decrease is read as a restart, and the value before it is
 * carried, so the exported value never decreases.
 */
class Counter {
  private carried = 0
  private last = 0

  observe(total: number): void {
    if (total < this.last) this.carried += this.last
    this.last = total
  }

  get value(): number {
    return this.carried + this.last
  }
}

function newRecord(id: string): WindowRecord {
  const labels = `{${WINDOW_LABEL}="${escapeLabelValue(id)}"}`
  return {
    id,
    labels,
    labelBytes: utf8(labels),
    generation: -1,
    hasTracker: false,
    score: 0,
    ema: 0,
    eventsPerHour: 0,
    mode: 0,
    stable: 0,
    cooldown: 0,
    degradations: new Counter(),
    invalid: new Counter(),
    clamped: new Counter(),
    hasFilter: false,
    effective: 0,
    desired: 0,
    dwell: 0,
    switchAge: Number.NaN,
    switches: new Counter(),
    oscillations: new Counter(),
    switchRate: 0,
    oscillationRate: 0,
  }
}

function readTracker(r: WindowRecord, tracker: StabilityTracker): void {
  r.hasTracker = true
  r.score = tracker.stabilityScore()
  r.ema = tracker.stabilityScoreEma()
  r.eventsPerHour = tracker.degradationEventsPerHour()
  r.mode = MODE_TO_NUMERIC[tracker.recommendMode()]
  r.stable = tracker.stableTicks
  r.cooldown = tracker.cooldownRemaining
  r.degradations.observe(tracker.totalDegradations)
  r.invalid.observe(tracker.invalidSamples)
  r.clamped.observe(tracker.clampedSamples)
}

function readFilter(r: WindowRecord, filter: Hysteresis): void {
  const m = filter.getMetrics()
  r.hasFilter = true
  r.effective = MODE_TO_NUMERIC[m.effectiveMode]
  r.desired = MODE_TO_NUMERIC[m.desiredMode]
  r.dwell = m.dwellCounter
  r.switchAge = m.lastSwitchAge ?? Number.NaN
  r.switches.observe(m.switchCount)
  r.oscillations.observe(m.oscCount)
  r.switchRate = m.switchRatePerSec
  r.oscillationRate = m.oscillationRatePerSec
}

/** How each window family reads a record; `undefined` leaves the sample out. */
const WINDOW_VALUES: Partial<Record<FamilySuffix, (r: WindowRecord) => number | undefined>> = {
  stability_score: (r) => (r.hasTracker ? r.score : undefined),
  stability_score_ema: (r) => (r.hasTracker ? r.ema : undefined),
  degradation_events_per_hour: (r) => (r.hasTracker ? r.eventsPerHour : undefined),
  recommended_fab_mode: (r) => (r.hasTracker ? r.mode : undefined),
  stable_ticks: (r) => (r.hasTracker ? r.stable : undefined),
  degradation_count_total: (r) => (r.hasTracker ? r.degradations.value : undefined),
  cooldown_remaining_ticks: (r) => (r.hasTracker ? r.cooldown : undefined),
  invalid_samples_total: (r) => (r.hasTracker ? r.invalid.value : undefined),
  clamped_samples_total: (r) => (r.hasTracker ? r.clamped.value : undefined),
  hyst_effective_mode: (r) => (r.hasFilter ? r.effective : undefined),
  hyst_desired_mode: (r) => (r.hasFilter ? r.desired : undefined),
  hyst_dwell_ticks: (r) => (r.hasFilter ? r.dwell : undefined),
  hyst_last_switch_age_ticks: (r) => (r.hasFilter && !Number.isNaN(r.switchAge) ? r.switchAge : undefined),
  hyst_switches_total: (r) => (r.hasFilter ? r.switches.value : undefined),
  hyst_oscillations_total: (r) => (r.hasFilter ? r.oscillations.value : undefined),
  hyst_switches_per_second: (r) => (r.hasFilter ? r.switchRate : undefined),
  hyst_oscillations_per_second: (r) => (r.hasFilter ? r.oscillationRate : undefined),
}

const REASONS: readonly RejectionReason[] = ['invalid_id', 'capacity', 'duplicate']
const FAMILY_GAP = utf8('\n\n')
/** From this size on, `metricsBody()` hands out bytes rather than a string. */
const BYTES_FROM = 65_536

/** A pull source: one tracker (and filter) read at scrape time. */
interface SingleSource {
  readonly id: string
  readonly tracker: StabilityTracker | null
  readonly filter: Hysteresis | null
}

/** The samples of an exporter-scope family. */
interface ExporterSample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** prom-client's view of one family: a collector object the registry formats itself. */
class FamilyMetric {
  readonly aggregator = 'sum'
  /** `# HELP …\n# TYPE …` as UTF-8. */
  readonly headerBytes: Uint8Array
  /** `\n` + the metric name, the start of every sample line. */
  readonly lineStart: Uint8Array
  /** Exporter-scope families: `\nname{labels} ` of each sample, in order (their labels never change). */
  readonly sampleStarts: Uint8Array[] = []

  constructor(
    private readonly exporter: StabilityExporter,
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter',
    readonly spec: FamilySpec,
  ) {
    this.headerBytes = utf8(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`)
    this.lineStart = utf8(`\n${name}`)
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number }[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.exporter.samplesOf(this.spec) }
  }

  reset(): void {
    // Values come from trackers at scrape time; there is nothing to reset here.
  }
}

const exportersByRegistry = new WeakMap<Registry<RegistryContentType>, Map<string, StabilityExporter>>()

/**
 * Exports trackers and anti-chatter filters as Prometheus metrics. Two ways
 * to feed it, which can be mixed:
 *
 * - **pull** (the default design): `track(windows)` or `track(id, tracker,
 *   filter?)`; nothing happens per tick, values are read at scrape time;
 * - **push**, like the reference's `update_stability_metrics`:
 *   `update(id, tracker)` copies the tracker's state now.
 *
 * The exporter is a `MetricsSource` (`contentType` + `metrics()`) that the
 * HTTP layer serves. Its families are also registered on `registry`, so
 * `registry.metrics()` (and any prom-client tooling) sees them too. Every
 * counter is monotonic: a tracker reset or replaced never makes one go
 * back.
 */
export class StabilityExporter {
  /** The prom-client registry the families are registered on. */
  readonly registry: Registry<RegistryContentType>
  /** Metric names in use. */
  readonly names: MetricNames
  /** Metric name prefix. */
  readonly prefix: string
  /** Most windows accepted through `update()`. */
  readonly maxWindows: number

  private readonly families: FamilyMetric[]
  private readonly pushed = new Map<string, WindowRecord>()
  private readonly pulled = new Map<string, WindowRecord>()
  private readonly singles = new Map<string, SingleSource>()
  private readonly registries = new Set<StabilityWindows>()
  private readonly rejected: Record<RejectionReason, number> = { invalid_id: 0, capacity: 0, duplicate: 0 }
  private readonly registryCarry = { invalid_id: 0, capacity: 0, evicted: 0 }
  private generation = 0
  private readonly writer = new ByteWriter()
  private rows: WindowRecord[] = []
  private rowsFresh = false

  /** Use {@link createStabilityExporter}. */
  constructor(registry: Registry<RegistryContentType>, prefix: string, maxWindows: number) {
    this.registry = registry
    this.prefix = prefix
    this.names = metricNames(prefix)
    this.maxWindows = maxWindows
    this.families = FAMILIES.map((spec) => new FamilyMetric(this, this.names[spec.suffix], spec.help, spec.type, spec))
  }

  /** The exposition content type: the registry's (`text/plain; version=0.0.4; charset=utf-8` by default). */
  get contentType(): string {
    return this.registry.contentType
  }

  /**
   * Copies `tracker`'s state into window `windowId` now (push mode). An
   * invalid id, or a new id past `maxWindows`, is refused and counted in
   * `windows_rejected_total`; returns whether the window was accepted.
   */
  update(windowId: string, tracker: StabilityTracker): boolean {
    const record = this.pushRecord(windowId)
    if (record === undefined) return false
    readTracker(record, tracker)
    this.rowsFresh = false
    return true
  }

  /** Copies `hysteresis`'s state into window `windowId` now (push mode). */
  updateHysteresis(windowId: string, hysteresis: Hysteresis): boolean {
    const record = this.pushRecord(windowId)
    if (record === undefined) return false
    readFilter(record, hysteresis)
    this.rowsFresh = false
    return true
  }

  /**
   * Reads a window registry at every scrape (pull mode); returns a function
   * that stops tracking it. Idle windows are swept at scrape time.
   */
  track(windows: StabilityWindows): () => void
  /** Reads one tracker (and filter) at every scrape as window `windowId` (pull mode). */
  track(windowId: string, tracker: StabilityTracker | null, hysteresis?: Hysteresis | null): () => void
  track(source: StabilityWindows | string, tracker?: StabilityTracker | null, hysteresis?: Hysteresis | null): () => void {
    if (source instanceof StabilityWindows) {
      this.registries.add(source)
      return () => {
        if (!this.registries.delete(source)) return
        // Keep the exporter-level counters monotonic once the registry's own counts stop being read.
        const r = source.rejections
        this.registryCarry.invalid_id += r.invalidId
        this.registryCarry.capacity += r.capacity
        this.registryCarry.evicted += source.evicted
      }
    }
    const problem = windowIdProblem(source)
    if (problem !== null) throw new RangeError(`StabilityExporter.track: window id ${JSON.stringify(source)} ${problem}`)
    const entry: SingleSource = { id: source, tracker: tracker ?? null, filter: hysteresis ?? null }
    this.singles.set(source, entry)
    return () => {
      if (this.singles.get(source) === entry) this.singles.delete(source)
    }
  }

  /** Stops exporting window `windowId` pushed with `update()` or tracked alone; returns whether it existed. */
  remove(windowId: string): boolean {
    const a = this.pushed.delete(windowId)
    const b = this.singles.delete(windowId)
    this.rowsFresh = false
    return a || b
  }

  /** Window ids refused so far, by reason (a copy). */
  get rejections(): Readonly<Record<RejectionReason, number>> {
    return { ...this.rejected }
  }

  /**
   * The exposition: this exporter's families, rendered directly (one pass,
   * no per-window awaits), followed by any other metric on the registry as
   * prom-client renders it. With an OpenMetrics registry, or default labels
   * set on the registry, the whole registry is rendered by prom-client.
   */
  async metrics(): Promise<string> {
    if (!this.rendersItself()) return this.registry.metrics()
    const ours = this.render()
    const others = this.otherMetrics()
    if (others.length === 0) return ours
    const rendered = await Promise.all(others.map((m) => this.registry.getSingleMetricAsString(m.name)))
    return `${ours}\n${rendered.join('\n\n')}\n`
  }

  /** This exporter's families in the text format, synchronously, in one pass. */
  render(): string {
    this.write()
    return this.writer.toString()
  }

  /**
   * The same text as {@link StabilityExporter.render}, as UTF-8 bytes: what
   * an HTTP response carries anyway, without decoding to a string and
   * encoding it back (a sizeable share of a large scrape).
   */
  renderBytes(): Uint8Array {
    this.write()
    return this.writer.toBytes()
  }

  /**
   * The exposition in whichever form is cheaper to send: a string when it
   * is small, UTF-8 bytes from 64 KiB on (a large text decoded to a string
   * only to be encoded back by the server costs a sizeable share of the
   * scrape; a small one is cheaper as a string than as a fresh buffer).
   * `@auris/metrics-http` uses it when this exporter is the only source.
   */
  async metricsBody(): Promise<string | Uint8Array> {
    if (!this.rendersItself() || this.otherMetrics().length > 0) return this.metrics()
    this.write()
    return this.writer.length >= BYTES_FROM ? this.writer.toBytes() : this.writer.toString()
  }

  private write(): void {
    const rows = this.collect()
    this.rowsFresh = false
    const out = this.writer
    out.reset()
    for (const [i, family] of this.families.entries()) {
      if (i > 0) out.bytes(FAMILY_GAP)
      out.bytes(family.headerBytes)
      const read = WINDOW_VALUES[family.spec.suffix as FamilySuffix]
      if (read !== undefined) {
        for (const r of rows) {
          const value = read(r)
          if (value === undefined) continue
          out.bytes(family.lineStart)
          out.bytes(r.labelBytes)
          out.byte(32)
          out.value(value)
        }
      } else {
        const starts = family.sampleStarts
        for (const [i, s] of this.exporterSamples(family.spec).entries()) {
          out.bytes((starts[i] ??= utf8(`\n${family.name}${formatLabels(Object.entries(s.labels))} `)))
          out.value(s.value)
        }
      }
    }
    out.byte(10)
  }

  /** Whether the fast renderer can produce these families: the classic format, and no default labels to add. */
  private rendersItself(): boolean {
    return this.registry.contentType === Registry.PROMETHEUS_CONTENT_TYPE && !hasDefaultLabels(this.registry)
  }

  /** The registry's metrics that are not this exporter's families. */
  private otherMetrics(): ReturnType<Registry["getMetricsAsArray"]> {
    const all = this.registry.getMetricsAsArray()
    // The common case, checked without a search: these families, in registration order, and nothing else.
    if (all.length === this.families.length && all.every((m, i) => m === (this.families[i] as unknown))) return []
    return all.filter((m) => !(this.families as unknown[]).includes(m))
  }

  /**
   * Unregisters the families from the registry; the exporter stops
   * exporting. Another exporter may then use the same registry and prefix.
   */
  dispose(): void {
    for (const family of this.families) {
      if (this.registry.getSingleMetric(family.name) === (family as unknown)) this.registry.removeSingleMetric(family.name)
    }
    const byPrefix = exportersByRegistry.get(this.registry)
    if (byPrefix?.get(this.prefix) === this) byPrefix.delete(this.prefix)
    this.pushed.clear()
    this.pulled.clear()
    this.singles.clear()
    this.registries.clear()
  }

  /**
   * The samples of one family for prom-client's formatter.
   *
   * @internal
   */
  samplesOf(spec: FamilySpec): { labels: Record<string, string>; value: number }[] {
    const read = WINDOW_VALUES[spec.suffix as FamilySuffix]
    if (read === undefined) return this.exporterSamples(spec).map((s) => ({ labels: { ...s.labels }, value: s.value }))
    const out: { labels: Record<string, string>; value: number }[] = []
    for (const r of this.currentRows()) {
      const value = read(r)
      if (value !== undefined) out.push({ labels: { [WINDOW_LABEL]: r.id }, value })
    }
    return out
  }

  /**
   * Registers the families on the registry.
   *
   * @internal
   */
  register(): void {
    for (const family of this.families) this.registry.registerMetric(family as unknown as Metric)
  }

  /**
   * The rows of the current scrape. prom-client asks for each family in turn,
   * synchronously, within one `registry.metrics()` call: the sources are read
   * once and the rows reused until the current task ends.
   */
  private currentRows(): WindowRecord[] {
    if (!this.rowsFresh) {
      this.collect()
      this.rowsFresh = true
      void Promise.resolve().then(() => {
        this.rowsFresh = false
      })
    }
    return this.rows
  }

  private exporterSamples(spec: FamilySpec): ExporterSample[] {
    switch (spec.suffix) {
      case 'windows':
        return [{ labels: {}, value: this.currentRows().length }]
      case 'windows_rejected_total': {
        let invalid = this.registryCarry.invalid_id
        let capacity = this.registryCarry.capacity
        for (const w of this.registries) {
          const r = w.rejections
          invalid += r.invalidId
          capacity += r.capacity
        }
        const totals: Record<RejectionReason, number> = {
          invalid_id: this.rejected.invalid_id + invalid,
          capacity: this.rejected.capacity + capacity,
          duplicate: this.rejected.duplicate,
        }
        return REASONS.map((reason) => ({ labels: { [REASON_LABEL]: reason }, value: totals[reason] }))
      }
      default: {
        let evicted = this.registryCarry.evicted
        for (const w of this.registries) evicted += w.evicted
        return [{ labels: {}, value: evicted }]
      }
    }
  }

  private pushRecord(windowId: string): WindowRecord | undefined {
    const existing = this.pushed.get(windowId)
    if (existing !== undefined) return existing
    if (windowIdProblem(windowId) !== null) {
      this.rejected.invalid_id++
      return undefined
    }
    if (this.pushed.size >= this.maxWindows) {
      this.rejected.capacity++
      return undefined
    }
    const record = newRecord(windowId)
    this.pushed.set(windowId, record)
    return record
  }

  /** Reads every source into one row per window, in a stable order: pushed, single, registries. */
  private collect(): WindowRecord[] {
    const generation = ++this.generation
    const rows: WindowRecord[] = []
    for (const record of this.pushed.values()) {
      record.generation = generation
      rows.push(record)
    }
    const claim = (id: string): WindowRecord | undefined => {
      if (this.pushed.has(id)) {
        this.rejected.duplicate++
        return undefined
      }
      let record = this.pulled.get(id)
      if (record === undefined) {
        record = newRecord(id)
        this.pulled.set(id, record)
      } else if (record.generation === generation) {
        this.rejected.duplicate++
        return undefined
      }
      record.generation = generation
      record.hasTracker = false
      record.hasFilter = false
      rows.push(record)
      return record
    }
    for (const single of this.singles.values()) {
      const record = claim(single.id)
      if (record === undefined) continue
      if (single.tracker !== null) readTracker(record, single.tracker)
      if (single.filter !== null) readFilter(record, single.filter)
    }
    for (const windows of this.registries) {
      windows.sweep()
      windows.forEach((w) => {
        const record = claim(w.id)
        if (record === undefined) return
        readTracker(record, w.tracker)
        if (w.hysteresis !== null) readFilter(record, w.hysteresis)
      })
    }
    // A window that left its source stops being exported; if its id comes back, its counters restart.
    for (const [id, record] of this.pulled) if (record.generation !== generation) this.pulled.delete(id)
    this.rows = rows
    return rows
  }
}

/** Default labels on a prom-client registry (prom-client keeps them in a private field). */
function hasDefaultLabels(registry: Registry<RegistryContentType>): boolean {
  const labels = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels
  for (const _ in labels) return true
  return false
}

/**
 * Creates an exporter and registers its families on `options.registry` (a
 * new prom-client `Registry` by default, never the global one).
 *
 * @throws {Error} when the registry already holds an exporter with the same
 *   prefix, or a metric with one of the exporter's names: the message says
 *   what to do instead of prom-client's "already registered".
 * @throws {RangeError} when an option is invalid.
 * @example
 * ```ts
 * const windows = new StabilityWindows()
 * const exporter = createStabilityExporter()
 * exporter.track(windows)
 * windows.tick('global', 0.9)
 * await exporter.metrics() // '# HELP atlas_stability_score …'
 * ```
 */
export function createStabilityExporter(options: StabilityExporterOptions = {}): StabilityExporter {
  const raw: unknown = options
  if (typeof raw !== 'object' || raw === null) throw new RangeError('createStabilityExporter: options must be an object')
  const candidate: unknown = options.registry ?? new Registry()
  if (!(candidate instanceof Registry)) {
    throw new RangeError('createStabilityExporter: option "registry" must be a prom-client Registry (from the same prom-client the app uses)')
  }
  const registry = candidate as Registry<RegistryContentType>
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const maxWindows = options.maxWindows ?? 1000
  if (!Number.isInteger(maxWindows) || maxWindows < 1 || maxWindows > 1e6) {
    throw new RangeError(`createStabilityExporter: option "maxWindows" must be an integer in [1, 1000000]; got ${String(maxWindows)}`)
  }
  const names = metricNames(prefix)
  const byPrefix = exportersByRegistry.get(registry) ?? new Map<string, StabilityExporter>()
  if (byPrefix.has(prefix)) {
    throw new Error(
      `createStabilityExporter: this registry already has a stability exporter with prefix "${prefix}". ` +
        'Reuse that exporter (setupPrometheusMetrics() returns it), dispose() it first, or pass another prefix or registry.',
    )
  }
  for (const name of Object.values(names)) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new Error(`createStabilityExporter: the registry already has a metric named "${name}". Remove it, or pass another prefix or registry.`)
    }
  }
  const exporter = new StabilityExporter(registry, prefix, maxWindows)
  exporter.register()
  byPrefix.set(prefix, exporter)
  exportersByRegistry.set(registry, byPrefix)
  return exporter
}

/**
 * The exporter registered on `registry` with `prefix`, if any.
 *
 * @internal
 */
export function existingExporter(registry: Registry<RegistryContentType>, prefix: string): StabilityExporter | undefined {
  return exportersByRegistry.get(registry)?.get(prefix)
}
