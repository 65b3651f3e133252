import { MODE_TO_NUMERIC, windowIdProblem, type Hysteresis, type StabilityTracker, type StabilityWindows } from '@auris/stability-core'
import { escapeLabelValue } from './format.js'
import { EXPORTER_FAMILIES, REASON_LABEL, WINDOW_FAMILIES, WINDOW_LABEL, type ExporterFamilySuffix, type FamilySpec } from './names.js'
import { HAS_FILTER, HAS_HISTOGRAM, HAS_SWITCH_AGE, HAS_TRACKER, type ExporterSample, type StabilitySnapshot, type WindowLabels } from './snapshot.js'

/** Why a window id was turned away. */
export type RejectionReason = 'invalid_id' | 'capacity' | 'duplicate'

const REASONS: readonly RejectionReason[] = ['invalid_id', 'capacity', 'duplicate']

const F = WINDOW_FAMILIES.length
const ix = (suffix: string): number => {
  const i = WINDOW_FAMILIES.findIndex((f) => f.suffix === suffix)
  if (i < 0) throw new Error(`prom-exporter: no window family ${suffix}`)
  return i
}
const SCORE = ix('stability_score')
const EMA = ix('stability_score_ema')
const PER_HOUR = ix('degradation_events_per_hour')
const MODE = ix('recommended_fab_mode')
const STABLE = ix('stable_ticks')
const DEGRADATIONS = ix('degradation_count_total')
const COOLDOWN = ix('cooldown_remaining_ticks')
const INVALID = ix('invalid_samples_total')
const CLAMPED = ix('clamped_samples_total')
const EFFECTIVE = ix('hyst_effective_mode')
const DESIRED = ix('hyst_desired_mode')
const DWELL = ix('hyst_dwell_ticks')
const SWITCH_AGE = ix('hyst_last_switch_age_ticks')
const SWITCHES = ix('hyst_switches_total')
const OSCILLATIONS = ix('hyst_oscillations_total')
const SWITCH_RATE = ix('hyst_switches_per_second')
const OSC_RATE = ix('hyst_oscillations_per_second')

/**
 * Presence bits a window needs for a sample of each family: tracker
 * families need a tracker, filter families a filter, and the switch age a
 * first switch (it has no value before).
 */
export const REQUIRES: Uint8Array = Uint8Array.from(WINDOW_FAMILIES, (f, i) =>
  i === SWITCH_AGE ? HAS_FILTER | HAS_SWITCH_AGE : f.scope === 'window' ? HAS_TRACKER : HAS_FILTER,
)

/** Counter slots whose source may go backwards (a tracker reset or replaced): 0..4 in `carry`. */
const C_DEGRADATIONS = 0
const C_INVALID = 1
const C_CLAMPED = 2
const C_SWITCHES = 3
const C_OSCILLATIONS = 4

/** One window as the collector knows it, kept across scrapes. */
class WindowRecord implements WindowLabels {
  /** `window_id="…"`, escaped: encoded into the scrape's label buffer. */
  readonly labelText: string
  readonly labels: Readonly<Record<string, string>>
  /** The source that owns the id: `null` for `update()` (push), else the tracked source. */
  owner: object | null = null
  /** Scrape in which the record was last read. */
  generation = -1
  present = 0
  // Plain arrays, not typed arrays: a typed array per window is a buffer per window for the
  // garbage collector to track, and its pauses grew past 200 ms at 100,000 windows.
  /** The latest values, in {@link WINDOW_FAMILIES} order. */
  readonly values: number[] = new Array<number>(F).fill(0)
  /** Per counter: the total carried over restarts, then the last raw value. */
  private readonly carry: number[] = new Array<number>(10).fill(0)
  /** Bounds of the score histogram last read (`null`: none yet). */
  histBounds: readonly number[] | null = null
  /** The histogram as exported: cumulative counts (`+Inf` last), sum, count; carried over restarts. */
  histValues: number[] = EMPTY
  /** The tracker's histogram as last read, and what restarts carried, in the same layout. */
  private histLast: number[] = EMPTY
  private histCarry: number[] = EMPTY

  /** Whether `labelText` is ASCII (its UTF-8 bytes are its char codes). */
  readonly ascii: boolean

  constructor(readonly id: string) {
    this.labelText = `${WINDOW_LABEL}="${escapeLabelValue(id)}"`
    // eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
    this.ascii = /^[\x00-\x7f]*$/.test(this.labelText)
    this.labels = { [WINDOW_LABEL]: id }
  }

  /**
   * A counter fed from a source that may go backwards: a decrease is read
   * as a restart and the value before it is carried, so the exported value
   * never decreases.
   */
  private monotonic(slot: number, total: number): number {
    const c = this.carry
    const last = c[slot * 2 + 1] as number
    if (total < last) c[slot * 2] = (c[slot * 2] as number) + last
    c[slot * 2 + 1] = total
    return (c[slot * 2] as number) + total
  }

  readTracker(t: StabilityTracker): void {
    const v = this.values
    this.present |= HAS_TRACKER
    v[SCORE] = t.stabilityScore()
    v[EMA] = t.stabilityScoreEma()
    v[PER_HOUR] = t.degradationEventsPerHour()
    v[MODE] = MODE_TO_NUMERIC[t.recommendMode()]
    v[STABLE] = t.stableTicks
    v[COOLDOWN] = t.cooldownRemaining
    v[DEGRADATIONS] = this.monotonic(C_DEGRADATIONS, t.totalDegradations)
    v[INVALID] = this.monotonic(C_INVALID, t.invalidSamples)
    v[CLAMPED] = this.monotonic(C_CLAMPED, t.clampedSamples)
    // A tracker of an older copy of core has no histogram (and no such getter).
    const bounds = (t as { readonly scoreBuckets?: readonly number[] | null }).scoreBuckets ?? null
    if (bounds === null) this.present &= ~HAS_HISTOGRAM
    else this.readHistogram(t, bounds)
  }

  /**
   * Reads the score histogram, carrying over restarts like the counters: a
   * tracker replaced (or restored from an older snapshot) reads lower, and
   * every value read before is added to what is exported from then on.
   */
  private readHistogram(t: StabilityTracker, bounds: readonly number[]): void {
    if (bounds !== this.histBounds) {
      const n = bounds.length + 3
      // New bounds (a replacement tracker with others): its series are others, nothing to carry.
      if (this.histBounds === null || !sameBounds(this.histBounds, bounds)) {
        this.histValues = new Array<number>(n).fill(0)
        this.histLast = new Array<number>(n).fill(0)
        this.histCarry = new Array<number>(n).fill(0)
      }
      this.histBounds = bounds
    }
    // One scratch array for every record: the reading is used at once.
    const raw = scratch
    const last = this.histLast
    const carry = this.histCarry
    const out = this.histValues
    const n = t.readScoreHistogram(raw, 0)
    let restarted = false
    for (let k = 0; k < n; k++) if ((raw[k] as number) < (last[k] as number)) restarted = true
    for (let k = 0; k < n; k++) {
      if (restarted) carry[k] = (carry[k] as number) + (last[k] as number)
      last[k] = raw[k] as number
      out[k] = (carry[k] as number) + (raw[k] as number)
    }
    this.present |= HAS_HISTOGRAM
  }

  readFilter(h: Hysteresis): void {
    // getMetrics() is the filter's one public reading of its counters; it reads the clock only after a switch.
    const m = h.getMetrics()
    const v = this.values
    this.present |= HAS_FILTER
    v[EFFECTIVE] = MODE_TO_NUMERIC[m.effectiveMode]
    v[DESIRED] = MODE_TO_NUMERIC[m.desiredMode]
    v[DWELL] = m.dwellCounter
    if (m.lastSwitchAge === null) this.present &= ~HAS_SWITCH_AGE
    else {
      this.present |= HAS_SWITCH_AGE
      v[SWITCH_AGE] = m.lastSwitchAge
    }
    v[SWITCHES] = this.monotonic(C_SWITCHES, m.switchCount)
    v[OSCILLATIONS] = this.monotonic(C_OSCILLATIONS, m.oscCount)
    v[SWITCH_RATE] = m.switchRatePerSec
    v[OSC_RATE] = m.oscillationRatePerSec
  }
}

const EMPTY: number[] = []
/** Where a tracker's histogram is read before it is carried into its record. */
const scratch: number[] = []

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** A pull source: one tracker (and filter) read at scrape time. */
interface SingleSource {
  readonly id: string
  readonly tracker: StabilityTracker | null
  readonly filter: Hysteresis | null
}

/** Exporter-wide totals the exporter-scope families show. */
interface Totals {
  readonly windows: number
  readonly rejected: Readonly<Record<RejectionReason, number>>
  readonly evicted: number
}

/**
 * How each exporter-scope family reads the totals. Keyed by the suffixes of
 * the families whose `scope` is `exporter`: a new such family in `FAMILIES`
 * is a type error here until it says what it exports.
 */
const EXPORTER_SAMPLES: Record<ExporterFamilySuffix, (t: Totals) => ExporterSample[]> = {
  windows: (t) => [{ labels: [], value: t.windows }],
  windows_rejected_total: (t) => REASONS.map((reason) => ({ labels: [[REASON_LABEL, reason]], value: t.rejected[reason] })),
  windows_evicted_total: (t) => [{ labels: [], value: t.evicted }],
}

/**
 * Reads every source once per scrape into a {@link StabilitySnapshot}.
 * Push (`update()`, a copy of a tracker now) and pull (`track()`, read at
 * scrape time) fill the same table of windows, keyed by id: one id, one
 * owner; a second source claiming it is refused and counted as a duplicate,
 * once per scrape.
 */
export class StabilityCollector {
  private readonly records = new Map<string, WindowRecord>()
  private readonly singles = new Map<string, SingleSource>()
  private readonly registries = new Set<StabilityWindows>()
  private readonly rejected: Record<RejectionReason, number> = { invalid_id: 0, capacity: 0, duplicate: 0 }
  /** Rejections and evictions of registries no longer tracked, so the totals never decrease. */
  private readonly registryCarry = { invalid_id: 0, capacity: 0, evicted: 0 }
  private pushedCount = 0
  private generation = 0

  constructor(readonly maxWindows: number) {}

  /** Window ids refused so far, by reason (a copy). */
  get rejections(): Readonly<Record<RejectionReason, number>> {
    return { ...this.rejected }
  }

  /** Push: the record of window `windowId`, created if the id is valid and there is room; `undefined` (counted) otherwise. */
  pushRecord(windowId: string): WindowRecord | undefined {
    const existing = this.records.get(windowId)
    if (existing?.owner === null) return existing
    if (windowIdProblem(windowId) !== null) {
      this.rejected.invalid_id++
      return undefined
    }
    if (existing !== undefined && this.stillTracked(existing)) {
      // A tracked source owns the id: pushing it too would export it twice.
      this.rejected.duplicate++
      return undefined
    }
    if (this.pushedCount >= this.maxWindows) {
      this.rejected.capacity++
      return undefined
    }
    if (existing !== undefined) {
      // Its source stopped exporting it (untracked, or the window left its registry) before the next
      // scrape swept the record: push takes it over, so its counters continue instead of restarting.
      existing.owner = null
      existing.present = 0
      this.pushedCount++
      return existing
    }
    const record = new WindowRecord(windowId)
    this.records.set(windowId, record)
    this.pushedCount++
    return record
  }

  /** Whether the tracked source that owns `record` still exports its id. */
  private stillTracked(record: WindowRecord): boolean {
    const owner = record.owner
    if (owner === null) return true
    if (this.singles.get(record.id) === owner) return true
    return this.registries.has(owner as StabilityWindows) && (owner as StabilityWindows).has(record.id)
  }

  update(windowId: string, tracker: StabilityTracker): boolean {
    const record = this.pushRecord(windowId)
    if (record === undefined) return false
    record.readTracker(tracker)
    return true
  }

  updateHysteresis(windowId: string, hysteresis: Hysteresis): boolean {
    const record = this.pushRecord(windowId)
    if (record === undefined) return false
    record.readFilter(hysteresis)
    return true
  }

  trackWindows(windows: StabilityWindows): () => void {
    this.registries.add(windows)
    return () => {
      if (!this.registries.delete(windows)) return
      const r = windows.rejections
      this.registryCarry.invalid_id += r.invalidId
      this.registryCarry.capacity += r.capacity
      this.registryCarry.evicted += windows.evicted
    }
  }

  trackSingle(windowId: string, tracker: StabilityTracker | null, filter: Hysteresis | null): () => void {
    const entry: SingleSource = { id: windowId, tracker, filter }
    this.singles.set(windowId, entry)
    return () => {
      if (this.singles.get(windowId) === entry) this.singles.delete(windowId)
    }
  }

  remove(windowId: string): boolean {
    const record = this.records.get(windowId)
    const pushed = record?.owner === null
    if (pushed) {
      this.records.delete(windowId)
      this.pushedCount--
    }
    return this.singles.delete(windowId) || pushed
  }

  clear(): void {
    this.records.clear()
    this.singles.clear()
    this.registries.clear()
    this.pushedCount = 0
  }

  /**
   * Reads every source once into a snapshot, in one go: pushed windows,
   * then single sources, then registries (each swept for idle windows first).
   */
  collect(): StabilitySnapshot {
    const collection = this.begin()
    collection.step(Infinity)
    return collection.finish()
  }

  /**
   * Starts reading the sources in steps ({@link Collection.step}), so a
   * caller can yield to the event loop between steps when there are many
   * windows. Each window is still read once, at one moment; windows that
   * appear after a registry was listed wait for the next scrape.
   */
  begin(): Collection {
    // Sized for every window the sources hold now: no regrowth (and copies of megabytes) during the scrape.
    let bound = this.pushedCount + this.singles.size
    for (const w of this.registries) bound += w.size
    return new Collection(
      bound,
      this,
      ++this.generation,
      this.records,
      [...this.singles.values()],
      [...this.registries],
    )
  }

  /**
   * The record of window `id` for a tracked source, or `undefined` (counted)
   * when a pushed window or another source of the same scrape has the id.
   * `claimed` holds the records this scrape has taken so far (`null` when
   * it reads one tracked source only, which cannot repeat an id): a
   * record's `generation` cannot tell, because scrapes overlap (a text and
   * an OpenMetrics scrape, two Prometheus servers) and each stamps it.
   *
   * @internal
   */
  claim(id: string, owner: object, generation: number, claimed: Set<WindowRecord> | null): WindowRecord | undefined {
    let record = this.records.get(id)
    if (record === undefined) {
      record = new WindowRecord(id)
      this.records.set(id, record)
    } else if (record.owner === null || (claimed === null ? record.generation === generation : claimed.has(record))) {
      this.rejected.duplicate++
      return undefined
    }
    claimed?.add(record)
    record.owner = owner
    // Never lowered: an older scrape that ends late must not make a newer one see the window as gone.
    if (record.generation < generation) record.generation = generation
    record.present = 0
    return record
  }

  /** @internal */
  totals(size: number, registries: readonly StabilityWindows[]): Totals {
    let invalid = this.registryCarry.invalid_id
    let capacity = this.registryCarry.capacity
    let evicted = this.registryCarry.evicted
    for (const registry of registries) {
      if (!this.registries.has(registry)) continue
      const r = registry.rejections
      invalid += r.invalidId
      capacity += r.capacity
      evicted += registry.evicted
    }
    return {
      windows: size,
      rejected: { invalid_id: this.rejected.invalid_id + invalid, capacity: this.rejected.capacity + capacity, duplicate: this.rejected.duplicate },
      evicted,
    }
  }
}

const encoder = new TextEncoder()

/** Windows read between two clock checks of a step. */
const CHECK_EVERY = 256

/** One scrape's reading of the sources, in resumable steps. */
export class Collection {
  private readonly windows: WindowRecord[] = []
  private values: Float64Array
  private present: Uint8Array
  private labelBytes: Uint8Array
  private labelEnds: Uint32Array
  private labelAt = 0
  /** Score histograms: per window, where its values start in `histValues` (-1: none). */
  private histAt: Int32Array
  private readonly histBounds: (readonly number[] | null)[] = []
  private histValues: Float64Array = new Float64Array(0)
  private histLen = 0
  private phase = 0
  private readonly pushed: Iterator<WindowRecord>
  private stale: Iterator<[string, WindowRecord]> | null = null
  private registry = 0
  private ids: string[] | null = null
  private next = 0
  private readonly claimed: Set<WindowRecord> | null

  constructor(
    expected: number,
    private readonly collector: StabilityCollector,
    private readonly generation: number,
    private readonly records: Map<string, WindowRecord>,
    private readonly singles: readonly SingleSource[],
    private readonly registries: readonly StabilityWindows[],
  ) {
    this.pushed = records.values()
    // Only several tracked sources can claim one id twice within this scrape.
    this.claimed = singles.length + registries.length > 1 ? new Set<WindowRecord>() : null
    const capacity = Math.max(expected, 16)
    this.values = new Float64Array(capacity * F)
    this.present = new Uint8Array(capacity)
    this.labelEnds = new Uint32Array(capacity)
    this.labelBytes = new Uint8Array(capacity * 32)
    this.histAt = new Int32Array(capacity)
  }

  /** Reads sources until `deadline` (a `Date.now()` value) or the end; returns whether it is done. */
  step(deadline: number): boolean {
    let budget = CHECK_EVERY
    const overdue = (): boolean => {
      if (--budget > 0) return false
      budget = CHECK_EVERY
      return Date.now() >= deadline
    }
    if (this.phase === 0) {
      for (;;) {
        const r = this.pushed.next()
        if (r.done === true) break
        const record = r.value
        if (record.owner !== null) continue
        record.generation = this.generation
        this.add(record)
        if (overdue()) return false
      }
      for (const single of this.singles) {
        const record = this.collector.claim(single.id, single, this.generation, this.claimed)
        if (record === undefined) continue
        if (single.tracker !== null) record.readTracker(single.tracker)
        if (single.filter !== null) record.readFilter(single.filter)
        this.add(record)
      }
      this.phase = 1
    }
    if (this.phase === 1) {
      while (this.registry < this.registries.length) {
        const registry = this.registries[this.registry] as StabilityWindows
        if (this.ids === null) {
          registry.sweep()
          this.ids = registry.ids()
          this.next = 0
        }
        const ids = this.ids
        while (this.next < ids.length) {
          const w = registry.get(ids[this.next++] as string)
          if (w !== undefined) {
            const record = this.collector.claim(w.id, registry, this.generation, this.claimed)
            if (record !== undefined) {
              record.readTracker(w.tracker)
              if (w.hysteresis !== null) record.readFilter(w.hysteresis)
              this.add(record)
            }
          }
          if (overdue()) return false
        }
        this.ids = null
        this.registry++
      }
      this.phase = 2
      this.stale = this.records.entries()
    }
    if (this.phase === 2) {
      // A window that left its source stops being exported; if its id comes back, its counters restart.
      const stale = this.stale as Iterator<[string, WindowRecord]>
      for (;;) {
        const r = stale.next()
        if (r.done === true) break
        const [id, record] = r.value
        if (record.owner !== null && record.generation < this.generation) this.records.delete(id)
        if (overdue()) return false
      }
      this.phase = 3
    }
    return true
  }

  /** The snapshot, once {@link Collection.step} answered true. */
  finish(): StabilitySnapshot {
    const size = this.windows.length
    const totals = this.collector.totals(size, this.registries)
    return {
      size,
      windows: this.windows,
      labelBytes: this.labelBytes.subarray(0, this.labelAt),
      labelEnds: this.labelEnds.subarray(0, size),
      present: this.present.subarray(0, size),
      values: this.values.subarray(0, size * F),
      windowFamilies: WINDOW_FAMILIES,
      exporterFamilies: EXPORTER_FAMILIES.map((spec: FamilySpec) => ({ spec, samples: EXPORTER_SAMPLES[spec.suffix as ExporterFamilySuffix](totals) })),
      scoreHistograms: { at: this.histAt.subarray(0, size), bounds: this.histBounds, values: this.histValues.subarray(0, this.histLen) },
    }
  }

  /** Appends a record's current values to the snapshot. */
  private add(record: WindowRecord): void {
    const i = this.windows.length
    if (i === this.present.length) {
      const present = new Uint8Array(i * 2)
      present.set(this.present)
      this.present = present
      const values = new Float64Array(i * 2 * F)
      values.set(this.values)
      this.values = values
      const ends = new Uint32Array(i * 2)
      ends.set(this.labelEnds)
      this.labelEnds = ends
      const at = new Int32Array(i * 2)
      at.set(this.histAt)
      this.histAt = at
    }
    if ((record.present & HAS_HISTOGRAM) !== 0) {
      const h = record.histValues
      if (this.histLen + h.length > this.histValues.length) {
        const grown = new Float64Array(Math.max(this.histValues.length * 2, this.histLen + h.length, 64))
        grown.set(this.histValues.subarray(0, this.histLen))
        this.histValues = grown
      }
      this.histAt[i] = this.histLen
      for (const value of h) this.histValues[this.histLen++] = value
      this.histBounds.push(record.histBounds)
    } else {
      this.histAt[i] = -1
      this.histBounds.push(null)
    }
    this.windows.push(record)
    this.present[i] = record.present
    const v = record.values
    const base = i * F
    for (let f = 0; f < F; f++) this.values[base + f] = v[f] as number
    const text = record.labelText
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.labelAt + text.length * 3 > this.labelBytes.length) {
      const grown = new Uint8Array(Math.max(this.labelBytes.length * 2, this.labelAt + text.length * 3))
      grown.set(this.labelBytes.subarray(0, this.labelAt))
      this.labelBytes = grown
    }
    if (record.ascii) {
      // Most ids are ASCII: a byte loop is several times cheaper than an encoder call per window.
      const bytes = this.labelBytes
      let at = this.labelAt
      for (let k = 0; k < text.length; k++) bytes[at++] = text.charCodeAt(k)
      this.labelAt = at
    } else this.labelAt += encoder.encodeInto(text, this.labelBytes.subarray(this.labelAt)).written
    this.labelEnds[i] = this.labelAt
  }
}
