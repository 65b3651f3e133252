/**
 * The exported metric families: one table that the exporter, the alert
 * rules and the dashboard all read, so a renamed metric breaks a test, not a
 * dashboard. Names are the default prefix (`atlas_`) plus the suffix.
 */

/**
 * Prometheus metric type of a family. `untyped` (rendered `unknown` in
 * OpenMetrics) is for the score histogram's three families: a typed
 * histogram named `…stability_score` would clash with the gauge of that name.
 */
export type FamilyType = 'gauge' | 'counter' | 'untyped'

/**
 * What a family is about: one series per window (`window` for the tracker,
 * `filter` for the anti-chatter filter), one per window and bucket of the
 * score histogram (`score-histogram`, windows with `scoreBuckets` only), or
 * one for the whole exporter.
 */
export type FamilyScope = 'window' | 'filter' | 'score-histogram' | 'exporter'

/**
 * How a family's samples from several processes of one service combine into
 * one (a cluster merge): `min` or `max` keep the worst process (lowest score,
 * EMA, mode or stable streak; highest event rate, cool-down, dwell or switch
 * rate), `sum` adds counters and counts. A mean of modes or EMAs means
 * nothing (two workers in FAB2 and FAB0 are not "in FAB1").
 */
export type ClusterAggregation = 'min' | 'max' | 'sum'

/** One exported metric family, as {@link FAMILIES} lists it. */
export interface FamilySpec {
  /** Name without the prefix. */
  readonly suffix: string
  /** Its Prometheus type. */
  readonly type: FamilyType
  /** Its `# HELP` text. */
  readonly help: string
  /** One series per window, per filter, or one for the whole exporter. */
  readonly scope: FamilyScope
  /** How samples of several processes combine; see {@link ClusterAggregation}. */
  readonly cluster: ClusterAggregation
  /** OpenMetrics unit (`# UNIT`), when the name ends with it. */
  readonly unit?: string
}

/** Default metric name prefix, the reference's. */
export const DEFAULT_PREFIX = 'atlas_'

/** Every family, in exposition order. */
export const FAMILIES = [
  // The six families of the reference note: names fixed once released.
  { suffix: 'stability_score', type: 'gauge', scope: 'window', cluster: 'min', help: 'Instantaneous stability score in [0, 1]: 0 during a cool-down, else stable ticks / minStableTicks, capped at 1.' },
  { suffix: 'stability_score_ema', type: 'gauge', scope: 'window', cluster: 'min', help: 'Exponential moving average of the stability score, in [0, 1].' },
  { suffix: 'degradation_events_per_hour', type: 'gauge', scope: 'window', cluster: 'max', help: 'Degradation events in the trailing hour (events).' },
  { suffix: 'recommended_fab_mode', type: 'gauge', scope: 'window', cluster: 'min', help: 'Mode recommended by the stability EMA: 0 = FAB0 (safe), 1 = FAB1 (reduced), 2 = FAB2 (full).' },
  { suffix: 'stable_ticks', type: 'gauge', scope: 'window', cluster: 'min', unit: 'ticks', help: 'Consecutive ticks without degradation outside a cool-down (ticks).' },
  { suffix: 'degradation_count_total', type: 'counter', scope: 'window', cluster: 'sum', help: 'Degradation events counted for the window (events); never decreases, even when its tracker is reset or replaced.' },
  // Operator extras.
  { suffix: 'cooldown_remaining_ticks', type: 'gauge', scope: 'window', cluster: 'max', unit: 'ticks', help: 'Cool-down ticks left after the last degradation (ticks); 0 outside a cool-down.' },
  { suffix: 'invalid_samples_total', type: 'counter', scope: 'window', cluster: 'sum', help: 'Samples ignored because the score was not a finite number or the degraded flag not a boolean (samples).' },
  { suffix: 'clamped_samples_total', type: 'counter', scope: 'window', cluster: 'sum', help: 'Finite scores outside [0, 1] that were clamped into range (samples).' },
  // Anti-chatter filter.
  { suffix: 'hyst_effective_mode', type: 'gauge', scope: 'filter', cluster: 'min', help: 'Mode in force after the anti-chatter filter: 0 = FAB0, 1 = FAB1, 2 = FAB2.' },
  { suffix: 'hyst_desired_mode', type: 'gauge', scope: 'filter', cluster: 'min', help: 'Mode last asked of the anti-chatter filter: 0 = FAB0, 1 = FAB1, 2 = FAB2.' },
  { suffix: 'hyst_dwell_ticks', type: 'gauge', scope: 'filter', cluster: 'max', unit: 'ticks', help: 'Consecutive updates the desired mode has differed from the effective one (ticks).' },
  { suffix: 'hyst_last_switch_age_ticks', type: 'gauge', scope: 'filter', cluster: 'min', unit: 'ticks', help: 'Ticks since the last mode switch; absent before the first switch (ticks).' },
  { suffix: 'hyst_switches_total', type: 'counter', scope: 'filter', cluster: 'sum', help: 'Mode switches made by the anti-chatter filter (switches).' },
  { suffix: 'hyst_oscillations_total', type: 'counter', scope: 'filter', cluster: 'sum', help: 'Switches that came within the oscillation window of the previous one (switches).' },
  { suffix: 'hyst_switches_per_second', type: 'gauge', scope: 'filter', cluster: 'max', help: 'Mode switches per second over the filter\'s trailing rate window (switches/s).' },
  { suffix: 'hyst_oscillations_per_second', type: 'gauge', scope: 'filter', cluster: 'max', help: 'Oscillations per second over the filter\'s trailing rate window (switches/s).' },
  // The score histogram (windows whose tracker has `scoreBuckets`): three families of their own, untyped,
  // because the gauge `stability_score` holds the base name. Cumulative counts: they add across workers.
  { suffix: 'stability_score_bucket', type: 'untyped', scope: 'score-histogram', cluster: 'sum', help: 'Histogram of the stability score, one observation per tick: ticks whose score was <= le, cumulative, never decreasing (ticks). The bucket series of the stability_score histogram, a family of its own because stability_score is a gauge.' },
  { suffix: 'stability_score_sum', type: 'untyped', scope: 'score-histogram', cluster: 'sum', help: 'Sum of the stability scores observed, one per tick, never decreasing (the _sum of the stability_score histogram).' },
  { suffix: 'stability_score_count', type: 'untyped', scope: 'score-histogram', cluster: 'sum', help: 'Ticks whose stability score was observed, never decreasing (ticks; the _count of the stability_score histogram).' },
  // The exporter itself.
  { suffix: 'windows', type: 'gauge', scope: 'exporter', cluster: 'sum', help: 'Windows exported at this scrape (windows).' },
  { suffix: 'windows_rejected_total', type: 'counter', scope: 'exporter', cluster: 'sum', help: 'Window ids turned away, by reason: invalid_id (not a valid label value), capacity (maxWindows reached), duplicate (exported by two sources).' },
  { suffix: 'windows_evicted_total', type: 'counter', scope: 'exporter', cluster: 'sum', help: 'Windows evicted for being idle (windows).' },
] as const satisfies readonly FamilySpec[]

/** A family suffix. */
export type FamilySuffix = (typeof FAMILIES)[number]['suffix']

/** The suffix of a family with one series for the whole exporter. */
export type ExporterFamilySuffix = Extract<(typeof FAMILIES)[number], { scope: 'exporter' }>['suffix']

/** Full metric names for a prefix, keyed by suffix. */
export type MetricNames = Readonly<Record<FamilySuffix, string>>

// No colon: Prometheus keeps colons for recording rules, and `promtool check metrics` rejects
// every exported name that has one.
const PREFIX_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * The metric names for `prefix` (default `atlas_`), keyed by suffix.
 *
 * @throws {RangeError} when the prefix would not make valid metric names.
 * @example
 * ```ts
 * metricNames().stability_score_ema      // 'atlas_stability_score_ema'
 * metricNames('fab_').hyst_switches_total // 'fab_hyst_switches_total'
 * ```
 */
export function metricNames(prefix: string = DEFAULT_PREFIX): MetricNames {
  if (typeof prefix !== 'string' || (prefix !== '' && !PREFIX_PATTERN.test(prefix))) {
    throw new RangeError(`prom-exporter: option "prefix" must match ${String(PREFIX_PATTERN)} (or be empty); got ${JSON.stringify(prefix)}`)
  }
  const names: Record<string, string> = {}
  for (const family of FAMILIES) names[family.suffix] = `${prefix}${family.suffix}`
  return Object.freeze(names)
}

/** The default names (`atlas_…`). */
export const METRIC_NAMES: MetricNames = metricNames()

/** The label every window series carries. */
export const WINDOW_LABEL = 'window_id'
/** The label of `windows_rejected_total`. */
export const REASON_LABEL = 'reason'

/** The families with one series per window (tracker and filter scopes), in exposition order. */
export const WINDOW_FAMILIES: readonly FamilySpec[] = FAMILIES.filter((f) => f.scope === 'window' || f.scope === 'filter')
/** The score histogram's families (`_bucket`, `_sum`, `_count`), in exposition order. */
export const HISTOGRAM_FAMILIES: readonly FamilySpec[] = FAMILIES.filter((f) => f.scope === 'score-histogram')
/** The label of the histogram's bucket series: the bucket's upper bound. */
export const LE_LABEL = 'le'
/** The families with one series for the whole exporter, in exposition order. */
export const EXPORTER_FAMILIES: readonly FamilySpec[] = FAMILIES.filter((f) => f.scope === 'exporter')
