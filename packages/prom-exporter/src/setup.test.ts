import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { FAMILIES } from './names.js'
import { setupPrometheusMetrics as setupOnRegistry } from './prom-client.js'
import { METRICS_DISABLED_TEXT, getMetricsText, isMetricsEnabled, metricsFlagValue, setupPrometheusMetrics } from './setup.js'

const ON = { AURIS_METRICS_EXP: 'on' }

describe('setupPrometheusMetrics', () => {
  it('returns null and registers nothing while AURIS_METRICS_EXP is off', async () => {
    const registry = new Registry()
    expect(await setupOnRegistry({ registry, env: {} })).toBeNull()
    expect(await setupOnRegistry({ registry, env: { AURIS_METRICS_EXP: 'off' } })).toBeNull()
    expect(await setupPrometheusMetrics({ env: {} })).toBeNull()
    expect(registry.getMetricsAsArray()).toHaveLength(0)
  })

  it('returns the same exporter when set up twice', async () => {
    const a = await setupPrometheusMetrics({ env: ON })
    const b = await setupPrometheusMetrics({ env: ON })
    expect(a?.constructor.name).toBe('StabilityExporter')
    expect(a).not.toBeNull()
    expect(b).toBe(a)
    const registry = new Registry()
    const c = await setupOnRegistry({ registry, env: ON })
    expect(await setupOnRegistry({ registry, env: ON })).toBe(c)
    expect(registry.getMetricsAsArray()).toHaveLength(FAMILIES.length)
    const own = await setupOnRegistry({ env: ON })
    expect(await setupOnRegistry({ env: ON })).toBe(own)
    await expect(setupPrometheusMetrics({ registry, env: ON } as never)).rejects.toThrow(/option "registry" belongs to the prom-client adapter/)
    // A boolean: chai formats both operands of a passing .not.toBe, and an exporter is large.
    expect(c === a).toBe(false)
    const prefixed = await setupPrometheusMetrics({ prefix: 'fab_', env: ON })
    expect(prefixed?.names.stability_score).toBe('fab_stability_score')
  })

  it('gives the reference text when off, and the exposition when on', async () => {
    expect(await getMetricsText({ env: {} })).toBe('# Metrics disabled (AURIS_METRICS_EXP=off)\n')
    expect(METRICS_DISABLED_TEXT).toBe('# Metrics disabled (AURIS_METRICS_EXP=off)\n')
    expect(await getMetricsText({ env: ON })).toMatch(/^# HELP atlas_stability_score /)
  })

  it('reads the flag when called', () => {
    expect(isMetricsEnabled({ AURIS_METRICS_EXP: 'TRUE' })).toBe(true)
    expect(isMetricsEnabled({})).toBe(false)
    expect(metricsFlagValue({ AURIS_METRICS_EXP: 'maybe' })).toBe('maybe')
  })
})

describe('without prom-client installed', () => {
  it('exports from the root entry and from setup, and fails only when the prom-client adapter is imported', () => {
    // An app that installed the package but not its peer: copies of the built
    // packages, with no prom-client anywhere on the resolution path.
    const app = mkdtempSync(join(tmpdir(), 'auris-no-prom-'))
    try {
      const modules = join(app, 'node_modules', '@auris')
      mkdirSync(modules, { recursive: true })
      for (const name of ['prom-exporter', 'stability-core']) {
        const from = fileURLToPath(new URL(`../../${name}/`, import.meta.url))
        cpSync(join(from, 'dist'), join(modules, name, 'dist'), { recursive: true })
        cpSync(join(from, 'package.json'), join(modules, name, 'package.json'))
      }
      writeFileSync(join(app, 'package.json'), '{"type":"module"}')
      writeFileSync(
        join(app, 'probe.mjs'),
        `import { setupPrometheusMetrics } from '@auris/prom-exporter/setup'
import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows } from '@auris/stability-core'
const off = await setupPrometheusMetrics({ env: {} })
console.log('off:' + String(off))
const windows = new StabilityWindows()
windows.tick('global', 0.4, true)
const on = await setupPrometheusMetrics({ env: { AURIS_METRICS_EXP: 'on' } })
on.track(windows)
console.log('on:' + (await on.metrics()).split('\\n').find((l) => l.startsWith('atlas_degradation_count_total')))
const root = createStabilityExporter()
root.track(windows)
console.log('root:' + root.render('openmetrics').split('\\n').find((l) => l.startsWith('atlas_degradation_count_total')))
try { await import('@auris/prom-exporter/prom-client') } catch (e) { console.log('adapter:' + e.message) }`,
      )
      const out = execFileSync(process.execPath, ['probe.mjs'], { cwd: app, encoding: 'utf8' })
      expect(out).toMatch(/^off:null$/m)
      expect(out).toMatch(/^on:atlas_degradation_count_total\{window_id="global"\} 1$/m)
      expect(out).toMatch(/^root:atlas_degradation_count_total\{window_id="global"\} 1$/m)
      expect(out).toMatch(/^adapter:Cannot find package 'prom-client'/m)
    } finally {
      rmSync(app, { recursive: true, force: true })
    }
  })
})
