import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { alertRules, type AlertRule } from './alerts.js'
import { RULES_FILE } from './testing/assets.js'
import { testShippedRules } from './testing/promtool.js'

/**
 * The rules on pushed series (group `atlas-stability-push`), unit-tested
 * with `promtool test rules` on series shaped as a Prometheus scraping a
 * Pushgateway with `honor_labels: true` stores them: the grouping labels,
 * `instance=""`, and one `push_time_seconds` per group holding the Unix
 * time of its last push (promtool's clock starts at 0).
 */

const root = fileURLToPath(new URL('..', import.meta.url))


const pushGroup = alertRules().groups.find((g) => g.name === 'atlas-stability-push')
const rules = Object.fromEntries([...(pushGroup?.rules ?? []), ...(alertRules().groups[0]?.rules ?? [])].map((r) => [r.alert, r])) as Record<string, AlertRule>

function fired(alert: string, value: string, labels: Record<string, string>): unknown {
  const rule = rules[alert] as AlertRule
  const fill = (text: string): string => text.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_m, name: string) => labels[name] ?? '').replace(/\{\{ \$value \| printf "[^"]+" \}\}/g, value)
  // The pull rules name their worst scraped process, h:1: never a pushed run (r1's EMA of 0.3 is lower, but pushed).
  return { exp_labels: { ...rule.labels, ...labels }, exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, k === 'worst_instance' ? 'h:1' : fill(v)])) }
}

const pushed = (run: string, window = 'global'): string => `{job="nightly",instance="",run_id="${run}"${window === '' ? '' : `,window_id="${window}"`}}`
const run = (id: string, window = 'global'): Record<string, string> => ({ job: 'nightly', run_id: id, window_id: window })

function tests(): unknown[] {
  return [
    {
      interval: '1m',
      input_series: [
        // r1 pushed at 0 (12 degradations, EMA 0.3); r2 pushed at 30m (14, EMA 0.8); r3 pushed at 0 (20) and deleted at 20m.
        { series: `push_time_seconds${pushed('r1', '')}`, values: '0x120' },
        { series: `atlas_degradation_count_total${pushed('r1')}`, values: '12x120' },
        { series: `atlas_stability_score_ema${pushed('r1')}`, values: '0.3x120' },
        { series: `push_time_seconds${pushed('r2', '')}`, values: `${'_ '.repeat(30)}1800x90` },
        { series: `atlas_degradation_count_total${pushed('r2')}`, values: `${'_ '.repeat(30)}14x90` },
        { series: `atlas_stability_score_ema${pushed('r2')}`, values: `${'_ '.repeat(30)}0.8x90` },
        { series: `push_time_seconds${pushed('r3', '')}`, values: '0x20' },
        { series: `atlas_degradation_count_total${pushed('r3', 'stream')}`, values: '20x20' },
        // A scraped process: its series are the pull rules' business, never the push rules'.
        { series: 'atlas_degradation_count_total{job="probe",instance="h:1",window_id="global"}', values: '100+10x120' },
        { series: 'atlas_stability_score_ema{job="probe",instance="h:1",window_id="stream"}', values: '0.4x120' },
      ],
      alert_rule_test: [
        { eval_time: '10m', alertname: 'PushedRunDegradations', exp_alerts: [fired('PushedRunDegradations', '12', run('r1')), fired('PushedRunDegradations', '20', run('r3', 'stream'))] },
        // r3 was deleted at 20m: gone once its series went stale.
        { eval_time: '40m', alertname: 'PushedRunDegradations', exp_alerts: [fired('PushedRunDegradations', '12', run('r1')), fired('PushedRunDegradations', '14', run('r2'))] },
        // r1's last push is more than 1h old: quiet, though the gateway still serves it.
        { eval_time: '65m', alertname: 'PushedRunDegradations', exp_alerts: [fired('PushedRunDegradations', '14', run('r2'))] },
        { eval_time: '95m', alertname: 'PushedRunDegradations', exp_alerts: [] },
        { eval_time: '10m', alertname: 'PushedStabilityLow', exp_alerts: [fired('PushedStabilityLow', '0.300', run('r1'))] },
        { eval_time: '65m', alertname: 'PushedStabilityLow', exp_alerts: [] },
        // The pull rule fires for the scraped window only: r1's pushed EMA of 0.3 would have kept it firing forever.
        { eval_time: '10m', alertname: 'StabilityLow', exp_alerts: [fired('StabilityLow', '0.400', { window_id: 'stream' })] },
        { eval_time: '110m', alertname: 'StabilityLow', exp_alerts: [fired('StabilityLow', '0.400', { window_id: 'stream' })] },
        // HighDegradationRate sees the scraped counter's increase (600/h), not the pushed values.
        { eval_time: '70m', alertname: 'HighDegradationRate', exp_alerts: [fired('HighDegradationRate', '600', { window_id: 'global' })] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        // At the threshold (10) is not above it; a failed first push leaves push_time_seconds at 0 from the start of time.
        { series: `push_time_seconds${pushed('r4', '')}`, values: '0x10' },
        { series: `atlas_degradation_count_total${pushed('r4')}`, values: '10x10' },
      ],
      alert_rule_test: [{ eval_time: '5m', alertname: 'PushedRunDegradations', exp_alerts: [] }],
    },
  ]
}

describe('rules on pushed series (promtool test rules)', () => {
  it('fire once per fresh run with its last pushed value, go quiet after delete or pushMaxAge, and keep pushed series out of the pull rules', () => {
    const r = testShippedRules(tests())
    expect(r.output).toMatch(/SUCCESS/)
    expect(r.status, r.output).toBe(0)
  })

  it('are in the shipped file, with a runbook section each, and take their options', () => {
    expect(readFileSync(join(root, RULES_FILE), 'utf8')).toContain('- name: atlas-stability-push')
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    for (const rule of pushGroup?.rules ?? []) {
      expect(readme, rule.alert).toContain(`### Runbook: ${rule.alert}`)
      expect(rule.annotations.runbook_url).toBe(`https://www.npmjs.com/package/@auris/prom-exporter#runbook-${rule.alert.toLowerCase()}`)
    }
    const custom = alertRules({ pushMaxAge: '1h30m', pushedDegradationsAbove: 0, pushGroupLabels: ['job', 'run_id'] }).groups[1]?.rules ?? []
    expect(custom.map((r) => r.expr)).toEqual([
      'min by (job, run_id, window_id) (atlas_stability_score_ema and on (job, run_id) (time() - push_time_seconds < 5400)) < 0.5',
      'max by (job, run_id, window_id) (atlas_degradation_count_total and on (job, run_id) (time() - push_time_seconds < 5400)) > 0',
    ])
    expect(() => alertRules({ pushMaxAge: 'an hour' })).toThrow(new RangeError('alertRules: option "pushMaxAge" must be a Prometheus duration such as 30s, 5m or 1h; got "an hour"'))
    expect(() => alertRules({ pushedDegradationsAbove: -1 })).toThrow(new RangeError('alertRules: option "pushedDegradationsAbove" must be a finite number >= 0; got -1'))
    expect(() => alertRules({ pushGroupLabels: [] })).toThrow(new RangeError('alertRules: option "pushGroupLabels" must be a non-empty list of label names; got []'))
    expect(() => alertRules({ pushGroupLabels: ['job', 'run-id'] })).toThrow(new RangeError('alertRules: option "pushGroupLabels" must be a non-empty list of label names; got ["job","run-id"]'))
  })
})
