import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { alertProbes, alertRules, type AlertRule } from './alerts.js'
import { testShippedRules } from './testing/promtool.js'

/**
 * The stability SLO group: `StabilitySloBreached`, a quantile of the score
 * histogram per window over a trailing hour, proven with `promtool test
 * rules` (Debian `prometheus`; fails, never skips, when it is missing).
 */

const root = fileURLToPath(new URL('..', import.meta.url))

function sloRule(options: Parameters<typeof alertRules>[0] = {}): AlertRule {
  const group = alertRules(options).groups.find((g) => g.name === 'atlas-stability-slo')
  expect(group?.rules).toHaveLength(1)
  return group?.rules[0] as AlertRule
}

const LE = ['0.25', '0.5', '0.8', '0.9', '1', '+Inf'] as const

/**
 * Cumulative bucket counters in promtool's expanding notation, one per `le`:
 * each segment is a per-minute increment of every bucket (cumulative, as
 * exported) and how many minutes it lasts. Starts at 0 at minute 0.
 */
function buckets(window: string, instance: string, segments: readonly [readonly number[], number][]): { series: string; values: string }[] {
  return LE.map((le, b) => {
    let value = 0
    const parts = ['0']
    for (const [increments, minutes] of segments) {
      const inc = increments[b] as number
      parts.push(`${String(value + inc)}+${String(inc)}x${String(minutes - 1)}`)
      value += inc * minutes
    }
    return { series: `atlas_stability_score_bucket{window_id="${window}",instance="${instance}",le="${le}"}`, values: parts.join(' ') }
  })
}

// Ticks per minute at or below each bound (cumulative), for 0.25, 0.5, 0.8, 0.9, 1, +Inf.
/** 20 ticks, all at 0.5 or below (10 of them at 0.25 or below). Alone: p50 = 0.25. */
const BAD = [10, 20, 20, 20, 20, 20]
/** 20 ticks, all above 0.9. */
const GOOD_20 = [0, 0, 0, 0, 20, 20]
/** 40 ticks, 18 in (0.5, 0.8], the rest above. Alone: p50 = 0.8 + 0.1 * (20 - 18) / (30 - 18) = 0.817, no breach. */
const FAIR = [0, 0, 18, 30, 40, 40]
/** 60 ticks, most above 0.8. p50 = 0.9. */
const HEALTHY = [0, 3, 6, 30, 60, 60]

function ruleTests(): unknown[] {
  const rule = sloRule()
  const fired = (window: string, value: string, worst: string): unknown => ({
    exp_labels: { ...rule.labels, window_id: window },
    exp_annotations: Object.fromEntries(
      Object.entries(rule.annotations).map(([k, v]) => [
        k,
        // The worst process of "global" while it breaches: "a" (p50 0.25 alone in the first hour, 0.333 at 75m; b: 0.817).
        k === 'worst_instance' ? worst : v.replace(/\{\{ \$labels\.window_id \}\}/g, window).replace(/\{\{ \$value \| printf "%\.3f" \}\}/g, value),
      ]),
    ),
  })
  return [
    {
      interval: '1m',
      input_series: [
        // Window "global" from two processes: "a" has 60 bad minutes, then recovers; "b" is fair throughout.
        // Pooled (60 ticks a minute), the first hour's p50 is 0.5 + 0.3 * (30 - 20) / (38 - 20) = 0.667: a breach
        // that neither the worst process (0.25) nor the best (0.817) shows.
        ...buckets('global', 'a', [
          [BAD, 60],
          [GOOD_20, 90],
        ]),
        ...buckets('global', 'b', [[FAIR, 150]]),
        ...buckets('stream', 'a', [[HEALTHY, 150]]),
      ],
      alert_rule_test: [
        // Breached since the first evaluation, but not yet for 5m.
        { eval_time: '3m', alertname: 'StabilitySloBreached', exp_alerts: [] },
        { eval_time: '10m', alertname: 'StabilitySloBreached', exp_alerts: [fired('global', '0.667', 'a')] },
        { eval_time: '60m', alertname: 'StabilitySloBreached', exp_alerts: [fired('global', '0.667', 'a')] },
        // 15 minutes after the recovery the trailing hour still holds 45 bad minutes: counts 450, 900, 1980, 2700,
        // 3600 over the bounds, p50 = 0.5 + 0.3 * (1800 - 900) / (1980 - 900) = 0.75.
        { eval_time: '75m', alertname: 'StabilitySloBreached', exp_alerts: [fired('global', '0.750', 'a')] },
        // An hour after it, the hour holds only recovered ticks: p50 = 0.8 + 0.1 * (30 - 18) / (30 - 18) = 0.9.
        { eval_time: '125m', alertname: 'StabilitySloBreached', exp_alerts: [] },
      ],
    },
  ]
}


describe('the stability SLO rule', () => {
  it('is the p50 of the pooled histogram per window over 1h, below 0.8, for 5m, by default', () => {
    const rule = sloRule()
    expect(rule.alert).toBe('StabilitySloBreached')
    expect(rule.expr).toBe('histogram_quantile(0.5, sum by (window_id, le) (rate(atlas_stability_score_bucket{run_id=""}[1h]))) < 0.8')
    expect(rule.for).toBe('5m')
    expect(rule.labels).toEqual({ severity: 'warning' })
    expect(rule.annotations.summary).toBe('Stability SLO breached on window {{ $labels.window_id }}: p50 of the score below 0.8 over 1h')
    expect(rule.annotations.runbook_url).toBe('https://www.npmjs.com/package/@auris/prom-exporter#runbook-stabilityslobreached')
    expect(alertRules().groups.map((g) => [g.name, g.interval])).toContainEqual(['atlas-stability-slo', '30s'])
    expect(alertProbes().find((p) => p.alert === 'StabilitySloBreached')?.series).toEqual(['histogram_quantile(0.5, sum by (window_id, le) (rate(atlas_stability_score_bucket{run_id=""}[1h])))'])
  })

  it('has its runbook section in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    expect(readme).toMatch(/^### Runbook: StabilitySloBreached$/m)
  })

  it('takes another quantile, objective, window, prefix and runbook base', () => {
    const rule = sloRule({ sloQuantile: 0.95, sloObjective: 0.5, sloWindow: '6h', sloFor: '15m', prefix: 'fab_', runbookBase: 'https://runbooks.example/atlas' })
    expect(rule.expr).toBe('histogram_quantile(0.95, sum by (window_id, le) (rate(fab_stability_score_bucket{run_id=""}[6h]))) < 0.5')
    expect(rule.for).toBe('15m')
    expect(rule.annotations.summary).toBe('Stability SLO breached on window {{ $labels.window_id }}: p95 of the score below 0.5 over 6h')
    expect(rule.annotations.runbook_url).toBe('https://runbooks.example/atlas#runbook-stabilityslobreached')
    expect(sloRule({ sloQuantile: 0.999 }).annotations.summary).toContain(': p99.9 of the score')
  })

  it('refuses bad options with a RangeError naming the option, the range and the value', () => {
    expect(() => alertRules({ sloQuantile: 1.5 })).toThrow(new RangeError('alertRules: option "sloQuantile" must be a finite number in [0, 1]; got 1.5'))
    expect(() => alertRules({ sloObjective: -0.1 })).toThrow(new RangeError('alertRules: option "sloObjective" must be a finite number in [0, 1]; got -0.1'))
    expect(() => alertRules({ sloObjective: Number.NaN })).toThrow(/"sloObjective" must be a finite number in \[0, 1\]; got NaN/)
    expect(() => alertRules({ sloWindow: 'an hour' })).toThrow(new RangeError('alertRules: option "sloWindow" must be a Prometheus duration such as 30s, 5m or 1h; got "an hour"'))
    expect(() => alertRules({ sloFor: '' })).toThrow(/"sloFor" must be a Prometheus duration/)
    expect(() => alertRules({ prefix: 'bad-prefix' })).toThrow(RangeError)
  })

  it('fires on a breached window, stays quiet on a healthy one, before its for, and an hour after recovery (promtool test rules)', () => {
    const r = testShippedRules(ruleTests())
    expect(r.output).toMatch(/SUCCESS/)
    expect(r.status, r.output).toBe(0)
  })
})
