import { spawnSync } from 'node:child_process'
import { Hysteresis, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { describe, expect, it } from 'vitest'
import { createStabilityExporter } from './exporter.js'

/**
 * `promtool check metrics` (Debian package `prometheus`) on real output:
 * any line it prints is a failure. The test fails, never skips, when
 * promtool is missing: .ci/run installs it.
 */
function promtool(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
  if (run.error !== undefined) throw new Error(`promtool could not run (${run.error.message}); install the Debian package "prometheus"`)
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() }
}

describe('promtool check metrics', () => {
  it('finds nothing in a busy exposition', async () => {
    const windows = new StabilityWindows({ tracker: { minStableTicks: 5 }, hysteresis: { dwellTicks: 1, rateLimitTicks: 0 }, clock: () => 0 })
    for (let i = 0; i < 200; i++) {
      windows.tick('global', i % 7 === 0 ? 0.2 : 0.9, i % 13 === 0)
      windows.tick('stream "in" \\ out', i % 3 === 0 ? 0.1 : 0.9)
      windows.tick('débit', Number.NaN)
    }
    windows.tick('', 0.5)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    exporter.update('pushed', new StabilityTracker())
    exporter.updateHysteresis('pushed', new Hysteresis())
    const text = await exporter.metrics()
    expect(text).toMatch(/atlas_hyst_switches_total\{window_id="global"\} [1-9]/)
    expect(promtool(text)).toEqual({ status: 0, output: '' })
  })

  it('finds nothing in an empty exporter', async () => {
    expect(promtool(await createStabilityExporter().metrics())).toEqual({ status: 0, output: '' })
  })

  it('does complain about the reference implementation names (so the check has teeth)', () => {
    const reference = '# HELP atlas_hysteresis_switch_rate_per_sec switches\n# TYPE atlas_hysteresis_switch_rate_per_sec gauge\natlas_hysteresis_switch_rate_per_sec 0\n'
    expect(promtool(reference).output).toMatch(/abbreviated|unit/i)
  })
})
