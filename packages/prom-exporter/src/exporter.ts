import { isHysteresis, isStabilityTracker, isStabilityWindows, windowIdProblem, type Hysteresis, type StabilityTracker, type StabilityWindows } from '@auris/stability-core'
import { StabilityCollector, type RejectionReason } from './collector.js'
import { DEFAULT_PREFIX, EXPORTER_FAMILIES, FAMILIES, WINDOW_FAMILIES, metricNames, type MetricNames } from './names.js'
import { ExpositionLayout, PROMETHEUS_CONTENT_TYPE, checkConstLabels, renderChunks, renderSliced, type ExpositionFormat } from './render.js'
import type { StabilitySnapshot } from './snapshot.js'
import { ChunkWriter, concatBytes, fromUtf8 } from './writer.js'

export type { RejectionReason } from './collector.js'

/** Options of {@link createStabilityExporter}. */
export interface StabilityExporterOptions {
  /** Metric name prefix. Default `atlas_`, the reference's. */
  prefix?: string
  /** Most windows accepted through `update()`/`updateHysteresis()`; a new id beyond is refused and counted. Integer in [1, 1e6]. Default 1000. */
  maxWindows?: number
  /**
   * Labels added to every series (after the series' own labels), such as
   * `{ service: 'fab' }`: rendered natively, at no extra cost per scrape.
   * Names must be valid label names, not `window_id` or `reason`.
   */
  constLabels?: Readonly<Record<string, string>>
}

/** From this size on, `metricsBody()` hands out bytes rather than a string. */
const BYTES_FROM = 65_536
/** The longest string JavaScript engines make (V8: 2^29 - 24 characters). */
const MAX_STRING = 0x1fffffe8
const OPTION_KEYS = new Set(['prefix', 'maxWindows', 'constLabels'])

/**
 * Exports trackers and anti-chatter filters as Prometheus metrics, with no
 * dependency: a `MetricsSource` (`contentType`, `metrics()`) that
 * `@auris/metrics-http` serves, in the Prometheus text format or
 * OpenMetrics. Two ways to feed it, which can be mixed:
 *
 * - **pull** (the default design): `track(windows)` or `track(id, tracker,
 *   filter?)`; nothing happens per tick, values are read at scrape time;
 * - **push**, like the reference's `update_stability_metrics`:
 *   `update(id, tracker)` copies the tracker's state now.
 *
 * Each scrape reads every source once into a snapshot, then renders it;
 * large scrapes render in slices that yield to the event loop
 * ({@link StabilityExporter.expose}). Every counter is monotonic: a tracker
 * reset or replaced never makes one go back. To put the families on a
 * prom-client registry too, use `@auris/prom-exporter/prom-client`.
 */
export class StabilityExporter {
  /** Metric names in use. */
  readonly names: MetricNames
  /** Metric name prefix. */
  readonly prefix: string
  /** Most windows accepted through `update()`. */
  readonly maxWindows: number
  /** Constant labels added to every series, in order. */
  readonly constLabels: readonly (readonly [string, string])[]
  /** The formats {@link StabilityExporter.expose} renders. */
  readonly formats: readonly ExpositionFormat[] = ['prometheus', 'openmetrics']
  /** Names of the metric families this exporter exports (counters with their `_total`). */
  readonly familyNames: readonly string[]

  private readonly collector: StabilityCollector
  private readonly layouts = new Map<ExpositionFormat, ExpositionLayout>()
  /** One writer kept between scrapes (a chunk long); concurrent scrapes get their own. */
  private idleWriter: ChunkWriter | null = new ChunkWriter()

  /** Use {@link createStabilityExporter}. */
  constructor(prefix: string, maxWindows: number, constLabels: readonly (readonly [string, string])[]) {
    this.prefix = prefix
    this.names = metricNames(prefix)
    this.maxWindows = maxWindows
    this.constLabels = constLabels
    this.familyNames = FAMILIES.map((f) => this.names[f.suffix])
    this.collector = new StabilityCollector(maxWindows)
  }

  /** The content type of {@link StabilityExporter.metrics}: the Prometheus text format 0.0.4. */
  get contentType(): string {
    return PROMETHEUS_CONTENT_TYPE
  }

  /** Bytes the exporter keeps between scrapes for rendering: one chunk, whatever the size of the last scrape. */
  get retainedBytes(): number {
    return this.idleWriter?.capacity ?? 0
  }

  /**
   * Copies `tracker`'s state into window `windowId` now (push mode). An
   * invalid id, a new id past `maxWindows`, or an id a tracked source
   * exports is refused and counted in `windows_rejected_total`; returns
   * whether the window was accepted.
   */
  update(windowId: string, tracker: StabilityTracker): boolean {
    return this.collector.update(windowId, tracker)
  }

  /** Copies `hysteresis`'s state into window `windowId` now (push mode). */
  updateHysteresis(windowId: string, hysteresis: Hysteresis): boolean {
    return this.collector.updateHysteresis(windowId, hysteresis)
  }

  /**
   * Reads a window registry at every scrape (pull mode); returns a function
   * that stops tracking it. Idle windows are swept at scrape time.
   */
  track(windows: StabilityWindows): () => void
  /** Reads one tracker (and filter) at every scrape as window `windowId` (pull mode). */
  track(windowId: string, tracker: StabilityTracker | null, hysteresis?: Hysteresis | null): () => void
  track(source: StabilityWindows | string, tracker?: StabilityTracker | null, hysteresis?: Hysteresis | null): () => void {
    if (typeof source !== 'string') {
      if (!isStabilityWindows(source)) throw new RangeError('StabilityExporter.track: expected a StabilityWindows registry or a window id')
      return this.collector.trackWindows(source)
    }
    const problem = windowIdProblem(source)
    if (problem !== null) throw new RangeError(`StabilityExporter.track: window id ${JSON.stringify(source)} ${problem}`)
    if (tracker != null && !isStabilityTracker(tracker)) throw new RangeError('StabilityExporter.track: "tracker" must be a StabilityTracker or null')
    if (hysteresis != null && !isHysteresis(hysteresis)) throw new RangeError('StabilityExporter.track: "hysteresis" must be a Hysteresis or null')
    return this.collector.trackSingle(source, tracker ?? null, hysteresis ?? null)
  }

  /** Stops exporting window `windowId` pushed with `update()` or tracked alone; returns whether it existed. */
  remove(windowId: string): boolean {
    return this.collector.remove(windowId)
  }

  /** Window ids refused so far, by reason (a copy). */
  get rejections(): Readonly<Record<RejectionReason, number>> {
    return this.collector.rejections
  }

  /**
   * Reads every source once, now, into an immutable snapshot: what one
   * scrape exports, before names and constant labels are applied.
   */
  snapshot(): StabilitySnapshot {
    return this.collector.collect()
  }

  /** The layout (headers, line starts) of a format, made once. */
  layout(format: ExpositionFormat = 'prometheus'): ExpositionLayout {
    let layout = this.layouts.get(format)
    if (layout === undefined) {
      const asked: string = format
      if (asked !== 'prometheus' && asked !== 'openmetrics') throw new RangeError(`StabilityExporter: format must be "prometheus" or "openmetrics"; got ${JSON.stringify(format)}`)
      layout = new ExpositionLayout(this.prefix, WINDOW_FAMILIES, EXPORTER_FAMILIES, this.constLabels, format)
      this.layouts.set(format, layout)
    }
    return layout
  }

  /**
   * The exposition as UTF-8 chunks (about 256 KiB each), rendered in slices
   * that yield to the event loop, so a scrape of any size neither blocks
   * the process nor meets a string-length limit. Sources are read at the
   * first `next()`. Stop iterating to stop rendering.
   *
   * @example
   * ```ts
   * for await (const chunk of exporter.expose('openmetrics')) socket.write(chunk)
   * ```
   */
  expose(format: ExpositionFormat = 'prometheus'): AsyncGenerator<Uint8Array, void, undefined> {
    const layout = this.layout(format)
    return renderSliced(
      layout,
      () => this.collector.begin(),
      () => this.takeWriter(),
      (w) => {
        this.idleWriter = w
      },
    )
  }

  /** The exposition in the Prometheus text format, rendered in slices (see {@link StabilityExporter.expose}). */
  async metrics(): Promise<string> {
    return this.text(await this.chunks('prometheus'))
  }

  /**
   * The exposition in whichever form is cheaper to send: a string when it
   * is small, UTF-8 bytes from 64 KiB on (a large text decoded to a string
   * only to be encoded back by the server costs a sizeable share of the
   * scrape).
   */
  async metricsBody(): Promise<string | Uint8Array> {
    const chunks = await this.chunks('prometheus')
    const bytes = concatBytes(chunks)
    return bytes.length >= BYTES_FROM ? bytes : fromUtf8(bytes)
  }

  /** The exposition, synchronously, in one pass (blocks for the whole render: prefer `expose()` for large ones). */
  render(format: ExpositionFormat = 'prometheus'): string {
    return this.text(this.renderChunksNow(format))
  }

  /** The same as {@link StabilityExporter.render}, as UTF-8 bytes. */
  renderBytes(format: ExpositionFormat = 'prometheus'): Uint8Array {
    return concatBytes(this.renderChunksNow(format))
  }

  /** Stops exporting: forgets every source and window. */
  dispose(): void {
    this.collector.clear()
  }

  private renderChunksNow(format: ExpositionFormat): Uint8Array[] {
    const layout = this.layout(format)
    const w = this.takeWriter()
    try {
      return renderChunks(layout, this.collector.collect(), w)
    } finally {
      this.idleWriter = w
    }
  }

  private async chunks(format: ExpositionFormat): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for await (const chunk of this.expose(format)) out.push(chunk)
    return out
  }

  private text(chunks: readonly Uint8Array[]): string {
    let total = 0
    for (const c of chunks) total += c.length
    if (total > MAX_STRING) {
      throw new RangeError(
        `StabilityExporter: the exposition is ${String(total)} bytes, more than a JavaScript string holds; read it as bytes with expose() (what @auris/metrics-http does)`,
      )
    }
    return fromUtf8(concatBytes(chunks))
  }

  private takeWriter(): ChunkWriter {
    const w = this.idleWriter ?? new ChunkWriter()
    this.idleWriter = null
    return w
  }
}

/**
 * Checks the options of {@link createStabilityExporter} and returns them resolved.
 *
 * @internal
 */
export function resolveExporterOptions(
  owner: string,
  options: unknown,
  extraKeys: readonly string[] = [],
): { prefix: string; maxWindows: number; constLabels: readonly (readonly [string, string])[] } {
  if (typeof options !== 'object' || options === null) throw new RangeError(`${owner}: options must be an object`)
  for (const key of Object.keys(options)) {
    if (key === 'registry' && !extraKeys.includes(key)) {
      throw new RangeError(
        `${owner}: option "registry" belongs to the prom-client adapter: import { createStabilityExporter } from '@auris/prom-exporter/prom-client' to register the families on a prom-client registry`,
      )
    }
    if (!OPTION_KEYS.has(key) && !extraKeys.includes(key)) throw new RangeError(`${owner}: unknown option "${key}"`)
  }
  const o = options as StabilityExporterOptions
  const prefix = o.prefix ?? DEFAULT_PREFIX
  metricNames(prefix)
  const maxWindows = o.maxWindows ?? 1000
  if (!Number.isInteger(maxWindows) || maxWindows < 1 || maxWindows > 1e6) {
    throw new RangeError(`${owner}: option "maxWindows" must be an integer in [1, 1000000]; got ${String(maxWindows)}`)
  }
  return { prefix, maxWindows, constLabels: checkConstLabels(owner, o.constLabels) }
}

/**
 * Creates an exporter. It needs no prom-client: serve it with
 * `@auris/metrics-http`, or read `metrics()` / `expose()` yourself.
 *
 * @throws {RangeError} when an option is invalid (the message names it).
 * @example
 * ```ts
 * const windows = new StabilityWindows()
 * const exporter = createStabilityExporter({ constLabels: { service: 'fab' } })
 * exporter.track(windows)
 * windows.tick('global', 0.9)
 * await exporter.metrics() // '# HELP atlas_stability_score …'
 * ```
 */
export function createStabilityExporter(options: StabilityExporterOptions = {}): StabilityExporter {
  const { prefix, maxWindows, constLabels } = resolveExporterOptions('createStabilityExporter', options)
  return new StabilityExporter(prefix, maxWindows, constLabels)
}
