import { DEFAULT_PREFIX, metricNames, type MetricNames } from './names.js'

/**
 * Alert rules generated from the same metric names the exporter uses, so a
 * renamed metric breaks a test, not an alert. Users can change thresholds
 * and regenerate; the package ships the default set as
 * `alerts/atlas-stability.rules.yml`.
 */

/** A Prometheus alerting rule, in the rule-file shape. */
export interface AlertRule {
  /** The alert name (`StabilityLow`). */
  readonly alert: string
  /** The PromQL expression; the alert fires while it returns series. */
  readonly expr: string
  /** How long `expr` must hold before the alert fires (`10m`). */
  readonly for?: string
  /** Labels added to the alert (`severity`). */
  readonly labels: Readonly<Record<string, string>>
  /** Annotations of the alert (`summary`, `description`, `runbook_url`). */
  readonly annotations: Readonly<Record<string, string>>
}

/** A rule group, in the rule-file shape. */
export interface RuleGroup {
  /** The group name, unique in a rule file. */
  readonly name: string
  /** How often the group is evaluated; default: the global evaluation interval. */
  readonly interval?: string
  /** The group's alert rules. */
  readonly rules: readonly AlertRule[]
}

/** The content of a rule file: `{ groups: [...] }`. */
export interface RuleFile {
  /** The rule groups. */
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
  /** Push rules: a pushed group whose last push is older than this stops alerting (its `push_time_seconds`). Default `1h`. */
  pushMaxAge?: string
  /** `PushedRunDegradations` fires when a run's last pushed degradation count is above this. Default 10. */
  pushedDegradationsAbove?: number
  /** Push rules: the grouping labels that tie a pushed series to its group's `push_time_seconds`. Default `['job', 'instance', 'run_id']`. */
  pushGroupLabels?: readonly string[]
  /** `StabilitySloBreached` looks at this quantile of the stability score, in [0, 1]. Default 0.5 (p50, the CI gate of the note). */
  sloQuantile?: number
  /** … and fires when it is below this objective, in [0, 1]. Default 0.8 (the FAB2 boundary). */
  sloObjective?: number
  /** … computed from the score histogram over this window. Default `1h`. */
  sloWindow?: string
  /** … for this long. Default `5m`. */
  sloFor?: string
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

/**
 * An annotation template naming the worst series of the alert's window: its
 * `instance` label (`job <name>` for a series without one, as a
 * Pushgateway's may be) and, when the series has one (a cluster's merged
 * exposition), its `worker`; `unknown` when no series is left. The rule
 * itself aggregates `by (window_id)`, so the alert keeps one identity per
 * window while the annotation follows whichever process is worst at each
 * evaluation. `perSeries` is the rule's expression before aggregation, with
 * `%q` where the quoted window id goes. The format is a raw (backquoted)
 * template string, so the selector's own quotes (`run_id=""`) need no escaping.
 */
function worstInstance(pick: 'bottomk' | 'topk', perSeries: string): string {
  return `{{ with query (printf \`${pick}(1, ${perSeries})\` $labels.window_id) }}{{ with first . }}{{ with .Labels.instance }}{{ . }}{{ else }}job {{ .Labels.job }}{{ end }}{{ with .Labels.worker }} (worker {{ . }}){{ end }}{{ end }}{{ else }}unknown{{ end }}`
}

/** One rule's expression before its comparison: what must return data for the rule to be able to fire. */
export interface RuleProbe {
  /** The alert name. */
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
  return { groups: [buildGroup(options).group, buildPushGroup(options), sloGroup(options).group] }
}

/**
 * The left-hand side of every alert (the expression without its
 * threshold), to check against a real Prometheus that each can return data.
 */
export function alertProbes(options: AlertOptions = {}): RuleProbe[] {
  return [...buildGroup(options).probes, ...sloGroup(options).probes]
}

function buildGroup(options: AlertOptions): { group: RuleGroup; probes: RuleProbe[] } {
  const raw = metricNames(options.prefix ?? DEFAULT_PREFIX)
  const n = scrapedOnly(raw)
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
  // One selector: the scraped series (no run_id) of the alert's window.
  const inWindow = `{${RUN_LABEL}="",window_id=%q}`
  const worstEma = worstInstance('bottomk', `${raw.stability_score_ema}${inWindow}`)
  const worstDegradations = worstInstance('topk', `increase(${raw.degradation_count_total}${inWindow}[1h])`)
  const worstSwitchRate = worstInstance('topk', `rate(${raw.hyst_switches_total}${inWindow}[5m])`)
  const worstOscillations = worstInstance('topk', `increase(${raw.hyst_oscillations_total}${inWindow}[${oscWindow}])`)
  const worstDesiredChanges = worstInstance('topk', `changes(${raw.hyst_desired_mode}${inWindow}[${stuckWindow}])`)

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
        worst_instance: worstEma,
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
          `Computed with increase() on ${raw.degradation_count_total} rather than from the ${raw.degradation_events_per_hour} gauge: the counter ` +
          'is measured on Prometheus\' clock, survives process restarts (increase() handles counter resets), is not bounded by the ' +
          'exporter\'s event history, and aggregates correctly across processes.',
        runbook_url: runbook('HighDegradationRate'),
        worst_instance: worstDegradations,
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
        worst_instance: worstSwitchRate,
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
        worst_instance: worstOscillations,
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
        worst_instance: worstDesiredChanges,
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

/** The label a pusher puts in its grouping key (see `@auris/prom-exporter/push`). */
const RUN_LABEL = 'run_id'

/**
 * Selectors of the scraped series only: pushed series carry a `run_id`
 * label, and the push rules own them (a finished run's gauges stay on the
 * gateway, and would keep these rules firing forever).
 */
function scrapedOnly(names: MetricNames): MetricNames {
  return Object.freeze(Object.fromEntries(Object.entries(names).map(([suffix, name]) => [suffix, `${name}{${RUN_LABEL}=""}`]))) as MetricNames
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }

function seconds(name: string, value: string): number {
  let total = 0
  for (const m of duration(name, value).matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number)
  return total
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * The rules on series pushed to a Pushgateway, one alert per run: a pushed
 * group is a finished (or running) batch, so its last pushed value is what
 * counts (`increase()` sees nothing in one push), and a group whose
 * `push_time_seconds` is older than `pushMaxAge` no longer alerts.
 */
function buildPushGroup(options: AlertOptions): RuleGroup {
  const n = metricNames(options.prefix ?? DEFAULT_PREFIX)
  const emaBelow = threshold('stabilityEmaBelow', options.stabilityEmaBelow ?? 0.5, 0)
  const above = threshold('pushedDegradationsAbove', options.pushedDegradationsAbove ?? 10, 0)
  const maxAge = options.pushMaxAge ?? '1h'
  const ttl = seconds('pushMaxAge', maxAge)
  const labels = options.pushGroupLabels ?? ['job', 'instance', RUN_LABEL]
  if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'string' || !LABEL_NAME.test(l))) {
    throw new RangeError(`alertRules: option "pushGroupLabels" must be a non-empty list of label names; got ${JSON.stringify(labels)}`)
  }
  const base = options.runbookBase ?? DEFAULT_RUNBOOK_BASE
  const runbook = (alert: string): string => `${base}#runbook-${alert.toLowerCase()}`
  const fresh = `on (${labels.join(', ')}) (time() - push_time_seconds < ${String(ttl)})`
  const perRun = `by (job, ${RUN_LABEL}, window_id)`
  const run = `run {{ $labels.${RUN_LABEL} }} of job {{ $labels.job }}`
  return {
    name: 'atlas-stability-push',
    interval: duration('interval', options.interval ?? '30s'),
    rules: [
      {
        alert: 'PushedStabilityLow',
        expr: `min ${perRun} (${n.stability_score_ema} and ${fresh}) < ${String(emaBelow)}`,
        labels: { severity: 'critical' },
        annotations: {
          summary: `Pushed ${run}: stability EMA of window {{ $labels.window_id }} below ${String(emaBelow)}`,
          description:
            `The last push of ${run} reports a stability score EMA of {{ $value | printf "%.3f" }} on window {{ $labels.window_id }}, below ${String(emaBelow)}: ` +
            `the run ended (or last pushed) with the tracker recommending FAB0. Quiet once the group is deleted or its last push is older than ${maxAge}.`,
          runbook_url: runbook('PushedStabilityLow'),
        },
      },
      {
        alert: 'PushedRunDegradations',
        expr: `max ${perRun} (${n.degradation_count_total} and ${fresh}) > ${String(above)}`,
        labels: { severity: 'warning' },
        annotations: {
          summary: `Pushed ${run}: more than ${String(above)} degradations on window {{ $labels.window_id }}`,
          description:
            `Pushed ${run} counted {{ $value | printf "%.0f" }} degradation events on window {{ $labels.window_id }} (its last pushed ${n.degradation_count_total}: ` +
            `each run pushes a series of its own, so the value is that run's total; increase() sees nothing in one push). Quiet once the group is deleted or its last push is older than ${maxAge}.`,
          runbook_url: runbook('PushedRunDegradations'),
        },
      },
    ],
  }
}


function fraction(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`alertRules: option "${name}" must be a finite number in [0, 1]; got ${String(value)}`)
  }
  return value
}

/**
 * The SLO group: the stability score's quantile per window, from the score
 * histogram (`…stability_score_bucket`, the tracker's `scoreBuckets`), over
 * a trailing window. Buckets of every process exporting a window are summed
 * before the quantile is taken: the SLO is over all the window's ticks,
 * whichever process ran them (a quantile of quantiles would mean nothing).
 */
function sloGroup(options: AlertOptions): { group: RuleGroup; probes: RuleProbe[] } {
  // The histogram's series are the score family's name plus `_bucket`, `_sum`, `_count`. Only scraped
  // series count: a series with a `run_id` label was pushed by a batch run, not ticked by a live window.
  const bucket = `${metricNames(options.prefix ?? DEFAULT_PREFIX).stability_score}_bucket`
  const q = fraction('sloQuantile', options.sloQuantile ?? 0.5)
  const objective = fraction('sloObjective', options.sloObjective ?? 0.8)
  const window = duration('sloWindow', options.sloWindow ?? '1h')
  const base = options.runbookBase ?? DEFAULT_RUNBOOK_BASE
  const label = `p${String(Math.round(q * 1000) / 10)}`
  const quantile = `histogram_quantile(${String(q)}, sum by (window_id, le) (rate(${bucket}{run_id=""}[${window}])))`
  // The process with the lowest quantile of its own ticks: `instance` (or `job` for a series without
  // one) and the cluster's `worker`, `unknown` when none is left; `%q` takes the quoted window id, and
  // the format is a raw (backquoted) template string, so the selector's own quotes need no escaping.
  const perProcess = `histogram_quantile(${String(q)}, sum by (instance, job, worker, le) (rate(${bucket}{run_id="",window_id=%q}[${window}])))`
  const worst = `{{ with query (printf \`bottomk(1, ${perProcess})\` $labels.window_id) }}{{ with first . }}{{ with .Labels.instance }}{{ . }}{{ else }}job {{ .Labels.job }}{{ end }}{{ with .Labels.worker }} (worker {{ . }}){{ end }}{{ end }}{{ else }}unknown{{ end }}`
  const rule: AlertRule = {
    alert: 'StabilitySloBreached',
    expr: `${quantile} < ${String(objective)}`,
    for: duration('sloFor', options.sloFor ?? '5m'),
    labels: { severity: 'warning' },
    annotations: {
      summary: `Stability SLO breached on window {{ $labels.window_id }}: ${label} of the score below ${String(objective)} over ${window}`,
      description:
        `The ${label} of the stability score of window {{ $labels.window_id }} over the last ${window} is {{ $value | printf "%.3f" }} ` +
        `(all processes exporting it, estimated from the histogram buckets), below the objective of ${String(objective)}: ` +
        `more than ${String(Math.round(q * 1000) / 10)} % of its ticks scored below ${String(objective)}.`,
      runbook_url: `${base}#runbook-stabilityslobreached`,
      worst_instance: worst,
    },
  }
  return {
    group: { name: 'atlas-stability-slo', interval: duration('interval', options.interval ?? '30s'), rules: [rule] },
    probes: [{ alert: 'StabilitySloBreached', series: [quantile] }],
  }
}
