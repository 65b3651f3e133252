import type { FamilySpec } from './names.js'

/** The label set of one window, made once per window and reused by every scrape. */
export interface WindowLabels {
  /** The window id. */
  readonly id: string
  /** `{ window_id: id }`, for consumers that want objects (the prom-client adapter). */
  readonly labels: Readonly<Record<string, string>>
}

/** One sample of an exporter-scope family. */
export interface ExporterSample {
  /** Label pairs, in order. */
  readonly labels: readonly (readonly [string, string])[]
  /** The sample value. */
  readonly value: number
}

/** Presence bit of a window with a tracker: its tracker families have a sample. */
export const HAS_TRACKER = 1
/** Presence bit of a window with an anti-chatter filter: its filter families have a sample. */
export const HAS_FILTER = 2
/** Presence bit of a filter that has switched once: the last-switch age has a sample. */
export const HAS_SWITCH_AGE = 4
/** The window's tracker keeps a score histogram. */
export const HAS_HISTOGRAM = 8

/**
 * The score histograms of one scrape. Window `i` has one when `at[i] >= 0`:
 * its bounds are `bounds[i]` (arrays shared by windows with the same
 * bounds), and `values[at[i] …]` holds `bounds[i].length + 1` cumulative
 * counts (`+Inf` last), then the sum, then the count, all carried across
 * tracker resets and replacements so they never decrease.
 */
export interface ScoreHistogramsSnapshot {
  /** Per window: where its histogram starts in `values`, or -1 without one. */
  readonly at: Int32Array
  /** Per window: its bucket bounds (`+Inf` implied), or null without a histogram. */
  readonly bounds: readonly (readonly number[] | null)[]
  /** Every window's cumulative counts, sum and count, back to back. */
  readonly values: Float64Array
}

/**
 * Everything one scrape exports, read once from the sources: the renderers
 * (text, OpenMetrics) and the prom-client adapter format it, and it never
 * changes after it is made, so a sliced render is consistent even while the
 * windows keep ticking, and two scrapes in flight never disturb each other.
 * It has no name prefix and no constant labels: a renderer takes those, so
 * several processes' snapshots can later be merged under one set of names.
 */
export interface StabilitySnapshot {
  /** Windows exported, in order. */
  readonly size: number
  /** The windows' labels, in order. */
  readonly windows: readonly WindowLabels[]
  /**
   * The windows' labels, `window_id="…"` escaped, as UTF-8, one after the
   * other in one buffer: window `i`'s are `labelBytes[labelEnds[i - 1] ?? 0 …
   * labelEnds[i]]`. One buffer per scrape instead of one per window keeps the
   * garbage collector's work (and its pauses) small at 100,000 windows.
   */
  readonly labelBytes: Uint8Array
  /** End offset of each window's labels in `labelBytes`. */
  readonly labelEnds: Uint32Array
  /** Per window, presence bits ({@link HAS_TRACKER}, {@link HAS_FILTER}, {@link HAS_SWITCH_AGE}). */
  readonly present: Uint8Array
  /** Window-major values: `values[i * windowFamilies.length + f]` is family `f` of window `i`. */
  readonly values: Float64Array
  /** The per-window families, in the order of `values`. */
  readonly windowFamilies: readonly FamilySpec[]
  /** The exporter-scope families and their samples, in exposition order. */
  readonly exporterFamilies: readonly {
    /** The family. */
    readonly spec: FamilySpec
    /** Its samples, in exposition order. */
    readonly samples: readonly ExporterSample[]
  }[]
  /** The score histograms; absent (a snapshot made elsewhere) means none. */
  readonly scoreHistograms?: ScoreHistogramsSnapshot
}
