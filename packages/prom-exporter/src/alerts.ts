import { DEFAULT_PREFIX, metricNames } from './names.js'

/**
 * Alert rules generated from the same metric names the exporter uses, so a
 * renamed metric breaks a test, not an alert. Users can change thresholds
 * and regenerate; the package ships the default set as
 * `alerts/atlas-stability.rules.yml`.
 */

/** A Prometheus alerting rule, in the rule-file shape. */
export interface AlertRule {
  readonly alert: string
  readonly expr: string
  readonly for?: string
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
}

/** A rule group, in the rule-file shape. */
export interface RuleGroup {
  readonly name: string
  readonly interval?: string
  readonly rules: readonly AlertRule[]
}

/** The content of a rule file: `{ groups: [...] }`. */
export interface RuleFile {
  readonly groups: readonly RuleGroup[]
}

/** Options of {@link alertRules}; every threshold has the documented default. */
export interface AlertOptions {
  /** Metric name prefix. Default `atlas_`. */
  prefix?: string
  /** `StabilityLow` fires below this EMA (the FAB1 boundary: the tracker recommends FAB0 below it). Default 0.5. */
  stabilityEmaBelow?: number
  /** … for this long. Default `2m`. */
  stabilityFor?: string
  /** `HighDegradationRate` fires above this many events in the last hour. Default 10. */
  degradationsPerHourAbove?: number
  /** … for this long. Default `5m`. */
  degradationFor?: string
  /** `HysteresisSwitchRateHigh` fires above this many switches per second (the SLO). Default 1. */
  switchesPerSecondAbove?: number
  /** … for this long. Default `5m`. */
  switchRateFor?: string
  /** `HysteresisOscillating` looks at this window for oscillations. Default `10m`. */
  oscillationWindow?: string
  /** `HysteresisStuck` fires when the desired mode changed more than this many times in `stuckWindow` while the effective mode never changed. Default 5. */
  stuckDesiredChangesAbove?: number
  /** Default `10m`. */
  stuckWindow?: string
  /** Base of the runbook links; each rule links to `${runbookBase}#runbook-<alert name in lower case>`. */
  runbookBase?: string
  /** Group evaluation interval. Default `30s`, the note's. */
  interval?: string
}

/** Where the runbook sections live: the package README. */
export const DEFAULT_RUNBOOK_BASE = 'https://www.npmjs.com/package/@auris/prom-exporter'

/** An absolute http(s) address without a fragment: the rules append `#runbook-<alert>` to it. */
function runbookBase(value: string | undefined): string {
  if (value === undefined) return DEFAULT_RUNBOOK_BASE
  if (typeof value !== 'string' || !/^https?:\/\/[^\s#]+$/.test(value)) {
    throw new RangeError(`alertRules: option "runbookBase" must be an http(s) address without a #fragment; got ${JSON.stringify(value)}`)
  }
  return value
}

/**
 * How series of one window are combined across processes that export the
 * same `window_id` (replicas of one service, say): the worst process wins,
 * and only `window_id` is kept, so an alert names the window, survives
 * restarts that change `instance`, and fires once per window.
 */
export const AGGREGATION = 'by (window_id)'

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/

function duration(name: string, value: string): string {
  if (!DURATION.test(value)) throw new RangeError(`alertRules: option "${name}" must be a Prometheus duration such as 30s, 5m or 1h; got ${JSON.stringify(value)}`)
  return value
}

function threshold(name: string, value: number, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`alertRules: option "${name}" must be a finite number >= ${String(min)}; got ${String(value)}`)
  }
  return value
}

/** One rule's expression before its comparison: what must return data for the rule to be able to fire. */
export interface RuleProbe {
  readonly alert: string
  /** The left-hand sides: every one must return series for the rule to work. */
  readonly series: readonly string[]
}

/**
 * The alert rule groups, built from the exporter's metric names.
 *
 * @throws {RangeError} when an option is invalid.
 * @example
 * ```ts
 * import { stringify } from 'yaml'
 * writeFileSync('atlas.rules.yml', stringify(alertRules({ degradationsPerHourAbove: 20 })))
 * ```
 */
export function alertRules(options: AlertOptions = {}): RuleFile {
  return { groups: [buildGroup(options).group] }
}

/**
 * The left-hand side of every alert (the expression without its
 * threshold), to check against a real Prometheus that each can return data.
 */
export function alertProbes(options: AlertOptions = {}): RuleProbe[] {
  return buildGroup(options).probes
}

function buildGroup(options: AlertOptions): { group: RuleGroup; probes: RuleProbe[] } {
  const n = metricNames(options.prefix ?? DEFAULT_PREFIX)
  const emaBelow = threshold('stabilityEmaBelow', options.stabilityEmaBelow ?? 0.5, 0)
  const perHour = threshold('degradationsPerHourAbove', options.degradationsPerHourAbove ?? 10, 0)
  const perSecond = threshold('switchesPerSecondAbove', options.switchesPerSecondAbove ?? 1, 0)
  const stuckChanges = threshold('stuckDesiredChangesAbove', options.stuckDesiredChangesAbove ?? 5, 0)
  const oscWindow = duration('oscillationWindow', options.oscillationWindow ?? '10m')
  const stuckWindow = duration('stuckWindow', options.stuckWindow ?? '10m')
  const base = runbookBase(options.runbookBase)
  const runbook = (alert: string): string => `${base}#runbook-${alert.toLowerCase()}`

  const ema = `min ${AGGREGATION} (${n.stability_score_ema})`
  const degradations = `max ${AGGREGATION} (increase(${n.degradation_count_total}[1h]))`
  const switchRate = `max ${AGGREGATION} (rate(${n.hyst_switches_total}[5m]))`
  const oscillations = `max ${AGGREGATION} (increase(${n.hyst_oscillations_total}[${oscWindow}]))`
  const desiredChanges = `max ${AGGREGATION} (changes(${n.hyst_desired_mode}[${stuckWindow}]))`
  const effectiveChanges = `max ${AGGREGATION} (changes(${n.hyst_effective_mode}[${stuckWindow}]))`

  const rules: AlertRule[] = [
    {
      alert: 'StabilityLow',
      expr: `${ema} < ${String(emaBelow)}`,
      for: duration('stabilityFor', options.stabilityFor ?? '2m'),
      labels: { severity: 'critical' },
      annotations: {
        summary: `Stability EMA of window {{ $labels.window_id }} below ${String(emaBelow)}: the tracker recommends FAB0`,
        description:
          `The stability score EMA of window {{ $labels.window_id }} is {{ $value | printf "%.3f" }} (worst process exporting it), below ${String(emaBelow)} ` +
          'for the whole pending period. Below 0.5 the tracker recommends FAB0, the safe mode: the FAB core keeps degrading or cooling down.',
        runbook_url: runbook('StabilityLow'),
      },
    },
    {
      alert: 'HighDegradationRate',
      expr: `${degradations} > ${String(perHour)}`,
      for: duration('degradationFor', options.degradationFor ?? '5m'),
      labels: { severity: 'warning' },
      annotations: {
        summary: `More than ${String(perHour)} degradations in the last hour on window {{ $labels.window_id }}`,
        description:
          `Window {{ $labels.window_id }} had {{ $value | printf "%.0f" }} degradation events over the last hour (worst process). ` +
          `Computed with increase() on ${n.degradation_count_total} rather than from the ${n.degradation_events_per_hour} gauge: the counter ` +
          'is measured on Prometheus\' clock, survives process restarts (increase() handles counter resets), is not bounded by the ' +
          'exporter\'s event history, and aggregates correctly across processes.',
        runbook_url: runbook('HighDegradationRate'),
      },
    },
    {
      alert: 'HysteresisSwitchRateHigh',
      expr: `${switchRate} > ${String(perSecond)}`,
      for: duration('switchRateFor', options.switchRateFor ?? '5m'),
      labels: { severity: 'warning' },
      annotations: {
        summary: `Anti-chatter filter of window {{ $labels.window_id }} switches modes more than ${String(perSecond)} time(s) per second`,
        description: `Effective mode switches on window {{ $labels.window_id }}: {{ $value | printf "%.2f" }}/s over 5m, above the SLO of ${String(perSecond)}/s. The filter lets the mode flap.`,
        runbook_url: runbook('HysteresisSwitchRateHigh'),
      },
    },
    {
      alert: 'HysteresisOscillating',
      expr: `${oscillations} > 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary: `Mode oscillations on window {{ $labels.window_id }} in the last ${oscWindow}`,
        description: `{{ $value | printf "%.0f" }} mode switch(es) on window {{ $labels.window_id }} came within the oscillation window of the previous one in the last ${oscWindow}.`,
        runbook_url: runbook('HysteresisOscillating'),
      },
    },
    {
      alert: 'HysteresisStuck',
      expr: `${desiredChanges} > ${String(stuckChanges)} and on (window_id) ${effectiveChanges} == 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary: `Anti-chatter filter of window {{ $labels.window_id }} is stuck: the desired mode keeps changing, the effective mode never does`,
        description: `The desired mode of window {{ $labels.window_id }} changed {{ $value | printf "%.0f" }} times in ${stuckWindow} while the effective mode never changed: the dwell time or the rate limit may be too long for this load.`,
        runbook_url: runbook('HysteresisStuck'),
      },
    },
  ]
  const probes: RuleProbe[] = [
    { alert: 'StabilityLow', series: [ema] },
    { alert: 'HighDegradationRate', series: [degradations] },
    { alert: 'HysteresisSwitchRateHigh', series: [switchRate] },
    { alert: 'HysteresisOscillating', series: [oscillations] },
    { alert: 'HysteresisStuck', series: [desiredChanges, effectiveChanges] },
  ]
  return { group: { name: 'atlas-stability', interval: duration('interval', options.interval ?? '30s'), rules }, probes }
}
