import { REQUIRES, type Collection } from './collector.js'
import { escapeHelp, escapeLabelValue, formatBound } from './format.js'
import { HISTOGRAM_FAMILIES, LE_LABEL, REASON_LABEL, WINDOW_LABEL, type FamilySpec } from './names.js'
import { HAS_HISTOGRAM, type StabilitySnapshot } from './snapshot.js'
import { utf8, writeValue, type ChunkWriter } from './writer.js'

/** An exposition format: Prometheus text 0.0.4, or OpenMetrics 1.0. */
export type ExpositionFormat = 'prometheus' | 'openmetrics'

/** Content type of the Prometheus text format 0.0.4 (prom-client's default). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
/** Content type of OpenMetrics 1.0 (prom-client's spelling). */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

/** The content type of `format`. */
export function contentTypeOf(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * Checks constant labels (labels added to every series, such as `instance`
 * or `service`) and returns them as ordered pairs.
 *
 * @throws {RangeError} naming the label when a name is not a valid label
 *   name, is reserved (`__` prefix, `le`, `quantile`) or is one the exporter sets itself, or
 *   when a value is not a string.
 */
export function checkConstLabels(owner: string, labels: unknown): readonly (readonly [string, string])[] {
  if (labels === undefined) return []
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new RangeError(`${owner}: option "constLabels" must be an object of label names to string values`)
  }
  const pairs: [string, string][] = []
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new RangeError(`${owner}: option "constLabels" has an invalid label name ${JSON.stringify(name)}: it must match ${String(LABEL_NAME)} and not start with "__"`)
    }
    if (name === WINDOW_LABEL || name === REASON_LABEL) {
      throw new RangeError(`${owner}: option "constLabels" may not set "${name}": the exporter sets it on its own series`)
    }
    // `le` and `quantile` belong to histogram buckets and summary quantiles: on a gauge or a counter
    // `promtool check metrics` rejects the whole exposition.
    if (name === 'le' || name === 'quantile') {
      throw new RangeError(`${owner}: option "constLabels" may not set "${name}": it is reserved for histograms and summaries, and promtool rejects it on gauges and counters`)
    }
    if (typeof value !== 'string') {
      throw new RangeError(`${owner}: option "constLabels.${name}" must be a string; got ${typeof value}`)
    }
    pairs.push([name, value])
  }
  return pairs
}

function labelText(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')
}

/**
 * Copies `src` into `buf` at `at`; returns the new end. A byte loop: for
 * the short pieces of a sample line it is several times faster than
 * `TypedArray.set`, whose call costs more than the copy.
 */
function copyInto(buf: Uint8Array, at: number, src: Uint8Array): number {
  const n = src.length
  if (n > 64) {
    buf.set(src, at)
    return at + n
  }
  for (let k = 0; k < n; k++) buf[at + k] = src[k] as number
  return at + n
}

/** The bytes of one family, made once per {@link ExpositionLayout}. */
export interface FamilyLayout {
  /** `# HELP …\n# TYPE …` (and `# UNIT …` in OpenMetrics). */
  readonly header: Uint8Array
  /** `\n` + the sample name + `{`. */
  readonly start: Uint8Array
  /** `,` + constant labels (if any) + `} `. */
  readonly end: Uint8Array
  /** The sample name. */
  readonly sample: string
  /** Presence bits ({@link HAS_TRACKER}, ...) a window needs for a sample of this family. */
  readonly required: number
}

/**
 * The bytes every scrape of one exporter configuration repeats, made once:
 * headers and the start and end of each family's sample lines, for a name
 * prefix, a set of constant labels and a format.
 */
export class ExpositionLayout {
  /** The format rendered. */
  readonly format: ExpositionFormat
  /** Whether `format` is `openmetrics`. */
  readonly openMetrics: boolean
  /** Between two families. */
  readonly gap: Uint8Array
  /** After the last family. */
  readonly tail: Uint8Array
  /** The per-window families, in the order of a snapshot's `windowFamilies`. */
  readonly windowFamilies: readonly FamilyLayout[]
  /** The score histogram's families: `_bucket`, `_sum`, `_count` (rendered after the window families). */
  readonly histogramFamilies: readonly FamilyLayout[]
  /** The exporter-scope families, in the order of a snapshot's `exporterFamilies`. */
  readonly exporterFamilies: readonly FamilyLayout[]
  private readonly constText: string
  /** Per set of bucket bounds: `,le="…"` for each bound and `+Inf`. */
  private readonly leLabels = new WeakMap<readonly number[], readonly Uint8Array[]>()

  /** The layout for the metric name `prefix`, the families, the constant labels (ordered name-value pairs), `format`, and the score histogram's families. */
  constructor(
    prefix: string,
    windowFamilies: readonly FamilySpec[],
    exporterFamilies: readonly FamilySpec[],
    constLabels: readonly (readonly [string, string])[],
    format: ExpositionFormat,
    histogramFamilies: readonly FamilySpec[] = HISTOGRAM_FAMILIES,
  ) {
    this.format = format
    this.openMetrics = format === 'openmetrics'
    this.gap = utf8(this.openMetrics ? '\n' : '\n\n')
    this.tail = utf8(this.openMetrics ? '\n# EOF\n' : '\n')
    this.constText = labelText(constLabels)
    const family = (spec: FamilySpec, i: number): FamilyLayout => {
      const sample = `${prefix}${spec.suffix}`
      return {
        header: utf8(this.header(spec, sample)),
        start: utf8(`\n${sample}{`),
        end: utf8(`${this.constText === '' ? '' : `,${this.constText}`}} `),
        sample,
        required: REQUIRES[i] ?? 0,
      }
    }
    this.windowFamilies = windowFamilies.map(family)
    this.histogramFamilies = histogramFamilies.map((spec) => ({ ...family(spec, -1), required: HAS_HISTOGRAM }))
    this.exporterFamilies = exporterFamilies.map(family)
  }

  /** `,le="…"` for each bound of `bounds`, then `,le="+Inf"`, made once per set of bounds. */
  leOf(bounds: readonly number[]): readonly Uint8Array[] {
    let le = this.leLabels.get(bounds)
    if (le === undefined) {
      le = [...bounds, Infinity].map((b) => utf8(`,${LE_LABEL}="${formatBound(b)}"`))
      this.leLabels.set(bounds, le)
    }
    return le
  }

  /** One sample line of an exporter-scope family (few per scrape: made as text). */
  exporterLine(f: FamilyLayout, labels: readonly (readonly [string, string])[]): Uint8Array {
    const own = labelText(labels)
    const all = own === '' ? this.constText : this.constText === '' ? own : `${own},${this.constText}`
    return utf8(`\n${f.sample}${all === '' ? '' : `{${all}}`} `)
  }

  private header(spec: FamilySpec, sample: string): string {
    if (!this.openMetrics) return `# HELP ${sample} ${escapeHelp(spec.help)}\n# TYPE ${sample} ${spec.type}`
    // OpenMetrics names a counter family without its `_total` (the samples keep it), escapes quotes in HELP, and has units.
    const name = spec.type === 'counter' ? sample.replace(/_total$/, '') : sample
    const unit = spec.unit !== undefined && name.endsWith(`_${spec.unit}`) ? `\n# UNIT ${name} ${spec.unit}` : ''
    // OpenMetrics spells untyped `unknown`.
    const type = spec.type === 'untyped' ? 'unknown' : spec.type
    return `# HELP ${name} ${escapeHelp(spec.help).replace(/"/g, '\\"')}\n# TYPE ${name} ${type}${unit}`
  }
}

/**
 * Renders one snapshot with one layout, a step at a time: each step fills
 * the writer's current chunk and stops, so a caller can hand chunks out
 * and yield to the event loop between steps.
 */
export class SnapshotRenderer {
  private family = 0
  private window = 0
  /** The next bucket of the current window, when a chunk filled up in the middle of its `_bucket` lines. */
  private bucket = 0
  private headerDone = false
  private finished = false

  /** A renderer of `snapshot` with `layout`, at the start of the exposition. */
  constructor(
    private readonly layout: ExpositionLayout,
    // The renderer reads the label bytes, never the per-window objects: a merged cluster snapshot has none.
    private readonly snapshot: Omit<StabilitySnapshot, 'windows'>,
  ) {}

  /** Whether the exposition has been written to its end. */
  get done(): boolean {
    return this.finished
  }

  /** Writes until the writer's chunk is full or the exposition ends; returns whether it ended. */
  step(w: ChunkWriter): boolean {
    const layout = this.layout
    const snap = this.snapshot
    const windowCount = layout.windowFamilies.length
    const histogramEnd = windowCount + layout.histogramFamilies.length
    const total = histogramEnd + layout.exporterFamilies.length
    const om = layout.openMetrics
    while (this.family < total) {
      const f = this.family
      if (!this.headerDone) {
        if (f > 0) w.bytes(layout.gap)
        const header =
          f < windowCount ? layout.windowFamilies[f] : f < histogramEnd ? layout.histogramFamilies[f - windowCount] : layout.exporterFamilies[f - histogramEnd]
        w.bytes(header?.header as Uint8Array)
        this.headerDone = true
        this.window = 0
      }
      if (f < windowCount) {
        const fam = layout.windowFamilies[f] as FamilyLayout
        const { start, end, required } = fam
        const present = snap.present
        const values = snap.values
        const labels = snap.labelBytes
        const ends = snap.labelEnds
        const stride = windowCount
        const size = snap.size
        let i = this.window
        let buf = w.buf
        let at = w.len
        for (; i < size; i++) {
          if (((present[i] as number) & required) !== required) continue
          const from = i === 0 ? 0 : (ends[i - 1] as number)
          const to = ends[i] as number
          const need = start.length + (to - from) + end.length + 32
          if (at + need > buf.length) {
            w.len = at
            w.room(need)
            buf = w.buf
            at = w.len
          }
          at = copyInto(buf, at, start)
          for (let k = from; k < to; k++) buf[at++] = labels[k] as number
          at = copyInto(buf, at, end)
          at = writeValue(buf, at, values[i * stride + f] as number, om)
          if (at >= w.chunkLimit) {
            i++
            break
          }
        }
        w.len = at
        this.window = i
        if (i < size) return false
      } else if (f < histogramEnd) {
        if (!this.histogram(w, f - windowCount)) return false
      } else {
        const exporterFamily = snap.exporterFamilies[f - histogramEnd]
        const fam = layout.exporterFamilies[f - histogramEnd] as FamilyLayout
        for (const sample of exporterFamily?.samples ?? []) {
          w.bytes(layout.exporterLine(fam, sample.labels))
          w.room(32)
          w.len = writeValue(w.buf, w.len, sample.value, om)
        }
      }
      this.family++
      this.headerDone = false
      if (w.full) return false
    }
    if (!this.finished) {
      w.bytes(layout.tail)
      this.finished = true
    }
    return true
  }

  /**
   * Writes samples of histogram family `h` (0 `_bucket`, 1 `_sum`, 2 `_count`)
   * until the chunk is full; returns whether the family is done.
   */
  private histogram(w: ChunkWriter, h: number): boolean {
    const hist = this.snapshot.scoreHistograms
    if (hist === undefined) return true
    const layout = this.layout
    const { start, end } = layout.histogramFamilies[h] as FamilyLayout
    const om = layout.openMetrics
    const labels = this.snapshot.labelBytes
    const ends = this.snapshot.labelEnds
    const size = this.snapshot.size
    const values = hist.values
    let i = this.window
    for (; i < size; i++) {
      const base = hist.at[i] as number
      if (base < 0) continue
      const bounds = hist.bounds[i] as readonly number[]
      const from = i === 0 ? 0 : (ends[i - 1] as number)
      const to = ends[i] as number
      const line = start.length + (to - from) + end.length + 32
      if (h === 0) {
        const le = layout.leOf(bounds)
        let b = this.bucket
        for (; b < le.length; b++) {
          const bound = le[b] as Uint8Array
          w.room(line + bound.length)
          const buf = w.buf
          let at = copyInto(buf, w.len, start)
          for (let k = from; k < to; k++) buf[at++] = labels[k] as number
          at = copyInto(buf, at, bound)
          at = copyInto(buf, at, end)
          w.len = writeValue(buf, at, values[base + b] as number, om)
          if (w.len >= w.chunkLimit && b + 1 < le.length) {
            // The chunk is full in the middle of this window's buckets: resume at the next one.
            this.bucket = b + 1
            this.window = i
            return false
          }
        }
        this.bucket = 0
      } else {
        w.room(line)
        const buf = w.buf
        let at = copyInto(buf, w.len, start)
        for (let k = from; k < to; k++) buf[at++] = labels[k] as number
        at = copyInto(buf, at, end)
        // After the bounds.length + 1 counts: the sum, then the count.
        w.len = writeValue(buf, at, values[base + bounds.length + h] as number, om)
      }
      if (w.len >= w.chunkLimit) {
        i++
        break
      }
    }
    this.window = i
    return i >= size
  }
}

/** The whole exposition of `snapshot`, synchronously, as chunks. */
export function renderChunks(layout: ExpositionLayout, snapshot: Omit<StabilitySnapshot, 'windows'>, writer: ChunkWriter): Uint8Array[] {
  const renderer = new SnapshotRenderer(layout, snapshot)
  while (!renderer.step(writer)) {
    // each step fills one chunk
  }
  return writer.take()
}

/** How long a render slice may run before it yields to the event loop. */
export const SLICE_MS = 8
/** Most bytes rendered between two yields, for runtimes whose clock stands still while code runs (workerd). */
export const SLICE_BYTES = 4 * 1024 * 1024

const yieldToLoop = (): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, 0)
  })

/**
 * The exposition as UTF-8 chunks, read and rendered in slices of about
 * {@link SLICE_MS} ms that yield to the event loop (a macrotask) in
 * between: timers, I/O and the FAB loop keep running during a large
 * scrape, and a consumer that stops iterating (a timeout) stops the work.
 * The sources are read from the first `next()` on.
 */
export async function* renderSliced(layout: ExpositionLayout, begin: () => Collection, writer: () => ChunkWriter, release: (w: ChunkWriter) => void): AsyncGenerator<Uint8Array, void, undefined> {
  const collection = begin()
  let sliceStart = Date.now()
  while (!collection.step(sliceStart + SLICE_MS)) {
    await yieldToLoop()
    sliceStart = Date.now()
  }
  const w = writer()
  try {
    yield* renderSnapshotSliced(layout, collection.finish(), w, sliceStart)
  } finally {
    w.take()
    release(w)
  }
}

/**
 * Renders a snapshot already read into `w`'s chunks, yielding to the event
 * loop after {@link SLICE_MS} ms (counted from `sliceStart`) or
 * {@link SLICE_BYTES} bytes: the rendering half of {@link renderSliced},
 * and the whole of a cluster scrape, whose snapshot comes merged.
 *
 * @internal
 */
export async function* renderSnapshotSliced(layout: ExpositionLayout, snapshot: Omit<StabilitySnapshot, 'windows'>, w: ChunkWriter, sliceStart: number = Date.now()): AsyncGenerator<Uint8Array, void, undefined> {
  const renderer = new SnapshotRenderer(layout, snapshot)
  let sliceBytes = 0
  for (;;) {
    const ended = renderer.step(w)
    for (const chunk of w.take()) {
      sliceBytes += chunk.length
      yield chunk
    }
    if (ended) return
    if (Date.now() - sliceStart >= SLICE_MS || sliceBytes >= SLICE_BYTES) {
      await yieldToLoop()
      sliceStart = Date.now()
      sliceBytes = 0
    }
  }
}
