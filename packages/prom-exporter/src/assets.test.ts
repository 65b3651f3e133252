import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DEFAULT_SCORE_BUCKETS, StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { AGGREGATION, alertProbes, alertRules } from './alerts.js'
import { buildDashboard } from './dashboard.js'
import { createStabilityExporter } from './exporter.js'
import { METRIC_NAMES } from './names.js'
import { DASHBOARD_FILE, RULES_FILE, dashboardText, rulesText } from './testing/assets.js'
import { parseExposition } from './testing/exposition.js'
import { promtool, testShippedRules } from './testing/promtool.js'

const root = fileURLToPath(new URL('..', import.meta.url))


/** Metric names an expression refers to (identifiers that are exported family names). */
function referencedMetrics(expr: string): string[] {
  return [...new Set(expr.match(/\batlas_[a-z_]+\b/g) ?? [])]
}

describe('shipped assets', () => {
  it('equal what the generators produce (pnpm --filter @auris/prom-exporter generate)', () => {
    expect(readFileSync(join(root, RULES_FILE), 'utf8')).toBe(rulesText())
    expect(readFileSync(join(root, DASHBOARD_FILE), 'utf8')).toBe(dashboardText())
  })

  it('refer only to metrics the exporter exports', async () => {
    // With the score histogram on, as the probe runs it: the SLO rule and row read its buckets.
    const windows = new StabilityWindows({ tracker: { scoreBuckets: DEFAULT_SCORE_BUCKETS } })
    windows.tick('global', 0.4, true)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const exported = new Set(parseExposition(await exporter.metrics()).keys())
    const dashboard = buildDashboard()
    const exprs = [
      ...alertRules().groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...(dashboard.panels ?? []).flatMap((p) => ('targets' in p ? (p.targets ?? []).map((t) => (t as unknown as { expr: string }).expr) : [])),
      ...(dashboard.templating.list ?? []).map((v) => (typeof v.query === 'string' ? v.query : '')),
    ]
    const names = exprs.flatMap(referencedMetrics)
    expect(names.length).toBeGreaterThan(20)
    for (const name of names) expect(exported, name).toContain(name)
    expect(names.filter((name) => name === METRIC_NAMES.stability_score_bucket)).toHaveLength(5)
  })

  it('follow the prefix', () => {
    const rules = JSON.stringify(alertRules({ prefix: 'fab_' }))
    const dashboard = JSON.stringify(buildDashboard({ prefix: 'fab_' }))
    expect(rules).not.toMatch(/atlas_/)
    expect(dashboard).not.toMatch(/atlas_/)
    expect(rules).toContain('fab_stability_score_ema')
    expect(dashboard).toContain('label_values(fab_stability_score, window_id)')
  })
})

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', join(root, RULES_FILE)])
    expect(r.output).toContain(`SUCCESS: ${String(alertRules().groups.flatMap((g) => g.rules).length)} rules found`)
    expect(r.status).toBe(0)
  })

  it('carry summary, description with the value, severity and a runbook that exists in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const anchors = new Set(
      [...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    )
    for (const rule of alertRules().groups[0]?.rules ?? []) {
      expect(rule.annotations.summary, rule.alert).toBeTruthy()
      expect(rule.annotations.description, rule.alert).toContain('{{ $value')
      expect(['critical', 'warning']).toContain(rule.labels.severity)
      const anchor = (rule.annotations.runbook_url ?? '').split('#')[1] ?? ''
      expect(anchors, `${rule.alert}: README section #${anchor}`).toContain(anchor)
      expect(rule.expr, rule.alert).toContain(AGGREGATION)
    }
  })

  it('take other thresholds, and refuse bad ones', () => {
    const rules = alertRules({ degradationsPerHourAbove: 20, stabilityFor: '10m', runbookBase: 'https://runbooks.example/atlas' }).groups[0]?.rules ?? []
    expect(rules.find((r) => r.alert === 'HighDegradationRate')?.expr).toMatch(/> 20$/)
    expect(rules.find((r) => r.alert === 'StabilityLow')?.for).toBe('10m')
    expect(rules[0]?.annotations.runbook_url).toBe('https://runbooks.example/atlas#runbook-stabilitylow')
    expect(() => alertRules({ stabilityFor: 'two minutes' })).toThrow(/"stabilityFor" must be a Prometheus duration/)
    expect(() => alertRules({ switchesPerSecondAbove: -1 })).toThrow(/"switchesPerSecondAbove" must be a finite number >= 0/)
    expect(alertProbes().map((p) => p.alert)).toEqual([...rules.map((r) => r.alert), 'StabilitySloBreached'])
  })

  it('fire and stay quiet as intended (promtool test rules)', () => {
    const r = testShippedRules(ruleTests())
    expect(r.output).toMatch(/SUCCESS/)
    expect(r.status, r.output).toBe(0)
  })
})

const g = { window_id: 'global' }

/** promtool unit tests: for every rule, a case where it fires (labels and annotations checked) and cases where it must not. */
function ruleTests(): unknown[] {
  const n = METRIC_NAMES
  const rules = Object.fromEntries((alertRules().groups[0]?.rules ?? []).map((r) => [r.alert, r]))
  // `worst`: the instance the worst_instance annotation names (its own template queries the series).
  const fired = (alert: string, value: string, labels: Record<string, string> = g, worst = 'a'): unknown => {
    const rule = rules[alert]
    if (rule === undefined) throw new Error(alert)
    const fill = (text: string): string => text.replace(/\{\{ \$labels\.window_id \}\}/g, labels.window_id ?? '').replace(/\{\{ \$value \| printf "[^"]+" \}\}/g, value)
    return {
      exp_labels: { ...rule.labels, ...labels },
      exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, k === 'worst_instance' ? worst : fill(v)])),
    }
  }
  return [
    {
      // Two processes export window "global": the worst EMA counts.
      interval: '1m',
      input_series: [
        { series: `${n.stability_score_ema}{window_id="global",instance="a"}`, values: '0.9x10' },
        { series: `${n.stability_score_ema}{window_id="global",instance="b"}`, values: '0.4x10' },
        { series: `${n.stability_score_ema}{window_id="stream",instance="a"}`, values: '0.5x10' },
      ],
      alert_rule_test: [
        { eval_time: '1m', alertname: 'StabilityLow', exp_alerts: [] },
        { eval_time: '3m', alertname: 'StabilityLow', exp_alerts: [fired('StabilityLow', '0.400', g, 'b')] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        // 60 events an hour on "global"; 9 an hour on "stream", just under the threshold: only "global" fires.
        { series: `${n.degradation_count_total}{window_id="global",instance="a"}`, values: '0+1x120' },
        { series: `${n.degradation_count_total}{window_id="stream",instance="a"}`, values: '0+0.15x120' },
      ],
      alert_rule_test: [
        { eval_time: '70m', alertname: 'HighDegradationRate', exp_alerts: [fired('HighDegradationRate', '60')] },
        { eval_time: '110m', alertname: 'HighDegradationRate', exp_alerts: [fired('HighDegradationRate', '60')] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        { series: `${n.hyst_switches_total}{window_id="global",instance="a"}`, values: '0+120x30' },
        { series: `${n.hyst_switches_total}{window_id="stream",instance="a"}`, values: '0+59x30' },
      ],
      alert_rule_test: [
        { eval_time: '7m', alertname: 'HysteresisSwitchRateHigh', exp_alerts: [] },
        { eval_time: '15m', alertname: 'HysteresisSwitchRateHigh', exp_alerts: [fired('HysteresisSwitchRateHigh', '2.00')] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        { series: `${n.hyst_oscillations_total}{window_id="global",instance="a"}`, values: '0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1' },
        { series: `${n.hyst_oscillations_total}{window_id="stream",instance="a"}`, values: '3x30' },
      ],
      alert_rule_test: [
        { eval_time: '9m', alertname: 'HysteresisOscillating', exp_alerts: [] },
        { eval_time: '15m', alertname: 'HysteresisOscillating', exp_alerts: [fired('HysteresisOscillating', '1')] },
        { eval_time: '29m', alertname: 'HysteresisOscillating', exp_alerts: [] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        // "global": the desired mode flips every minute, the effective mode never moves. "stream": both move.
        { series: `${n.hyst_desired_mode}{window_id="global",instance="a"}`, values: '1 2 1 2 1 2 1 2 1 2 1 2' },
        { series: `${n.hyst_effective_mode}{window_id="global",instance="a"}`, values: '2x12' },
        { series: `${n.hyst_desired_mode}{window_id="stream",instance="a"}`, values: '1 2 1 2 1 2 1 2 1 2 1 2' },
        { series: `${n.hyst_effective_mode}{window_id="stream",instance="a"}`, values: '2 2 2 2 2 1 1 1 1 1 1 1' },
      ],
      alert_rule_test: [
        { eval_time: '4m', alertname: 'HysteresisStuck', exp_alerts: [] },
        { eval_time: '10m', alertname: 'HysteresisStuck', exp_alerts: [fired('HysteresisStuck', '10')] },
      ],
    },
  ]
}

describe('the dashboard entry without the Grafana SDK installed', () => {
  it('fails with a message that says what to install, not the runtime’s bare "cannot find package"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'auris-no-sdk-'))
    try {
      // The entry's sources in a directory with no node_modules: the SDK cannot be found from there.
      for (const file of ['dashboard.ts', 'dashboard-build.ts', 'names.ts']) cpSync(fileURLToPath(new URL(`./${file}`, import.meta.url)), join(dir, file))
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
      const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url))
      const script = `import(${JSON.stringify(pathToFileURL(join(dir, 'dashboard.ts')).href)}).then(() => console.log('loaded'), (e) => console.log(e.message))`
      const run = spawnSync(tsx, ['--eval', script], { cwd: dir, encoding: 'utf8' })
      expect(run.stdout.trim()).toBe(
        '@auris/prom-exporter/dashboard needs the optional peer dependency @grafana/grafana-foundation-sdk, which is not installed: run `npm install @grafana/grafana-foundation-sdk` (or your package manager\'s equivalent). The dashboard file itself ships built in @auris/prom-exporter/dashboards/atlas-stability.json.',
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
