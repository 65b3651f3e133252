import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { alertRules } from './alerts.js'
import { METRIC_NAMES } from './names.js'
import { testShippedRules, type PromtoolResult } from './testing/promtool.js'

/**
 * Several processes export the same windows (instances, and workers of a
 * cluster): the rules aggregate `by (window_id)`, and the `worst_instance`
 * annotation names the worst series' instance and worker. promtool (Debian
 * package `prometheus`) evaluates the shipped rule file, templates included,
 * and compares every annotation to the exact text.
 */

const n = METRIC_NAMES
const rules = Object.fromEntries((alertRules().groups[0]?.rules ?? []).map((r) => [r.alert, r]))

/** An expected alert: the rule's labels plus `window_id`, every annotation filled in. */
function fired(alert: string, window: string, value: string, worst: string): unknown {
  const rule = rules[alert]
  if (rule === undefined) throw new Error(alert)
  const fill = (text: string): string => text.replaceAll('{{ $labels.window_id }}', window).replace(/\{\{ \$value \| printf "[^"]+" \}\}/g, value)
  return {
    exp_labels: { ...rule.labels, window_id: window },
    exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, k === 'worst_instance' ? worst : fill(v)])),
  }
}

/** A series selector in promtool's input syntax (label values quoted and escaped as PromQL strings). */
function series(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`
}

function promtoolTest(tests: unknown[]): PromtoolResult {
  return testShippedRules(tests)
}

const QUOTED = 'stream "in" \\ out'

describe('alerts over several instances and workers', () => {
  it('name the worst instance (and worker) of each window, every rule (promtool test rules)', () => {
    const r = promtoolTest([
      {
        interval: '1m',
        input_series: [
          // "global": four series over three instances; worker 2 of instance a is the worst until 4m, then worker 1 of b.
          { series: series(n.stability_score_ema, { window_id: 'global', instance: 'a:8010', worker: '1' }), values: '0.9x10' },
          { series: series(n.stability_score_ema, { window_id: 'global', instance: 'a:8010', worker: '2' }), values: '0.3x10' },
          { series: series(n.stability_score_ema, { window_id: 'global', instance: 'b:8010', worker: '1' }), values: '0.45 0.45 0.45 0.45 0.45 0.1 0.1 0.1 0.1 0.1' },
          { series: series(n.stability_score_ema, { window_id: 'global', instance: 'c:8010' }), values: '0.8x10' },
          // A window id that needs escaping inside the template's query; no worker label.
          { series: series(n.stability_score_ema, { window_id: QUOTED, instance: 'a:8010' }), values: '0.6x10' },
          { series: series(n.stability_score_ema, { window_id: QUOTED, instance: 'c:8010' }), values: '0.2x10' },
          // Healthy everywhere: no alert.
          { series: series(n.stability_score_ema, { window_id: 'calm', instance: 'a:8010' }), values: '0.9x10' },
          { series: series(n.stability_score_ema, { window_id: 'calm', instance: 'c:8010' }), values: '0.7x10' },
        ],
        alert_rule_test: [
          {
            eval_time: '3m',
            alertname: 'StabilityLow',
            exp_alerts: [fired('StabilityLow', 'global', '0.300', 'a:8010 (worker 2)'), fired('StabilityLow', QUOTED, '0.200', 'c:8010')],
          },
          // The worst changed at 5m; one evaluation later the same alert still fires (its labels, hence its
          // identity and its pending time, did not change: had they, it would be pending for 2m again) and
          // names the new worst.
          {
            eval_time: '6m',
            alertname: 'StabilityLow',
            exp_alerts: [fired('StabilityLow', 'global', '0.100', 'b:8010 (worker 1)'), fired('StabilityLow', QUOTED, '0.200', 'c:8010')],
          },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: series(n.degradation_count_total, { window_id: 'global', instance: 'a:8010', worker: '1' }), values: '0+1x120' },
          { series: series(n.degradation_count_total, { window_id: 'global', instance: 'a:8010', worker: '2' }), values: '0+0.5x120' },
          { series: series(n.degradation_count_total, { window_id: 'global', instance: 'b:8010', worker: '3' }), values: '0+2x120' },
          { series: series(n.degradation_count_total, { window_id: 'stream', instance: 'a:8010', worker: '1' }), values: '0+0.1x120' },
          { series: series(n.degradation_count_total, { window_id: 'stream', instance: 'b:8010', worker: '1' }), values: '0+0.15x120' },
          // A series without an instance (pushed, say) is named by its job.
          { series: series(n.degradation_count_total, { window_id: 'batch', job: 'nightly' }), values: '0+0.5x120' },
          { series: series(n.degradation_count_total, { window_id: 'batch', instance: 'a:8010' }), values: '0+0.1x120' },
        ],
        alert_rule_test: [
          {
            eval_time: '70m',
            alertname: 'HighDegradationRate',
            exp_alerts: [fired('HighDegradationRate', 'global', '120', 'b:8010 (worker 3)'), fired('HighDegradationRate', 'batch', '30', 'job nightly')],
          },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: series(n.hyst_switches_total, { window_id: 'global', instance: 'a:8010' }), values: '0+120x30' },
          { series: series(n.hyst_switches_total, { window_id: 'global', instance: 'b:8010', worker: '4' }), values: '0+180x30' },
          { series: series(n.hyst_switches_total, { window_id: 'global', instance: 'c:8010' }), values: '0+6x30' },
        ],
        alert_rule_test: [{ eval_time: '15m', alertname: 'HysteresisSwitchRateHigh', exp_alerts: [fired('HysteresisSwitchRateHigh', 'global', '3.00', 'b:8010 (worker 4)')] }],
      },
      {
        interval: '1m',
        input_series: [
          { series: series(n.hyst_oscillations_total, { window_id: 'global', instance: 'a:8010', worker: '1' }), values: '0x10 1x20' },
          { series: series(n.hyst_oscillations_total, { window_id: 'global', instance: 'c:8010', worker: '2' }), values: '0x10 2x20' },
          { series: series(n.hyst_oscillations_total, { window_id: 'global', instance: 'b:8010' }), values: '0x30' },
        ],
        alert_rule_test: [{ eval_time: '15m', alertname: 'HysteresisOscillating', exp_alerts: [fired('HysteresisOscillating', 'global', '2', 'c:8010 (worker 2)')] }],
      },
      {
        interval: '1m',
        input_series: [
          // The desired mode flips every minute on b/7 and every other minute on a; the effective mode never moves.
          { series: series(n.hyst_desired_mode, { window_id: 'global', instance: 'a:8010', worker: '1' }), values: '1 1 2 2 1 1 2 2 1 1 2 2' },
          { series: series(n.hyst_desired_mode, { window_id: 'global', instance: 'b:8010', worker: '7' }), values: '1 2 1 2 1 2 1 2 1 2 1 2' },
          { series: series(n.hyst_effective_mode, { window_id: 'global', instance: 'a:8010', worker: '1' }), values: '2x12' },
          { series: series(n.hyst_effective_mode, { window_id: 'global', instance: 'b:8010', worker: '7' }), values: '2x12' },
        ],
        alert_rule_test: [{ eval_time: '10m', alertname: 'HysteresisStuck', exp_alerts: [fired('HysteresisStuck', 'global', '10', 'b:8010 (worker 7)')] }],
      },
    ])
    expect(r.output).toMatch(/SUCCESS/)
    expect(r.status, r.output).toBe(0)
  })

  it('keep one alert per window: its labels are the rule labels and window_id, never an instance or a worker', () => {
    for (const rule of Object.values(rules)) {
      expect(Object.keys(rule.labels), rule.alert).toEqual(['severity'])
      expect(rule.expr, rule.alert).not.toMatch(/instance|worker/)
      expect(rule.annotations.worst_instance, rule.alert).toMatch(/^\{\{ with query \(printf `(bottomk|topk)\(1, .+\{run_id="",window_id=%q\}.*\)` \$labels\.window_id\) \}\}/)
    }
  })

  it('are shown in the README as shipped', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    expect(readme).toContain(`worst_instance: '${rules.StabilityLow?.annotations.worst_instance ?? ''}'`)
  })

  it('follow the prefix in the worst-instance query', () => {
    const low = alertRules({ prefix: 'fab_' }).groups[0]?.rules.find((r) => r.alert === 'StabilityLow')
    expect(low?.annotations.worst_instance).toContain('printf `bottomk(1, fab_stability_score_ema{run_id="",window_id=%q})` $labels.window_id')
  })
})
