import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { formatChecks, formatMetrics, formatTable } from './format.js'
import { REFERENCE_SCENARIO, SimulatedFabCore, checkScenario, runScenario } from './simulation.js'

describe('reference scenario', () => {
  it('ends on the reference figures', () => {
    const { final } = runScenario()
    // The first case of the reference vectors (shared/conformance).
    expect(final.stabilityScoreEma).toBe(0.3040291910375369)
    expect(final.stableTicks).toBe(13)
    expect(final.degradationCount).toBe(3)
    expect(final.recommendedMode).toBe('FAB0')
    expect(final.degradationEventsPerHour).toBe(3)
  })

  it('records a row every 10 ticks and on each degradation', () => {
    const { rows } = runScenario()
    expect(rows.map((r) => r.tick)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    const events = runScenario({ ...REFERENCE_SCENARIO, schedule: [15, 33] }).rows.map((r) => r.tick)
    expect(events).toEqual([10, 15, 20, 30, 33, 40, 50, 60, 70, 80, 90, 100])
  })

  it('checks the recommended mode in every band', () => {
    for (const [ticks, mode] of [
      [10, 'FAB1'],
      [100, 'FAB2'],
    ] as const) {
      const options = { ...REFERENCE_SCENARIO, ticks, schedule: [] }
      const result = runScenario(options)
      expect(result.final.recommendedMode).toBe(mode)
      expect(checkScenario(result, options).every((c) => c.ok)).toBe(true)
    }
  })

  it('passes its checks, and fails them when the tracker disagrees', () => {
    const result = runScenario()
    expect(checkScenario(result).every((c) => c.ok)).toBe(true)
    const wrong = checkScenario(result, { ...REFERENCE_SCENARIO, schedule: [20, 50] })
    expect(wrong.find((c) => !c.ok)?.name).toBe('exactly 2 degradation events')
  })
})

describe('SimulatedFabCore', () => {
  it('steps the mode down on each degradation and recovers the score', () => {
    const core = new SimulatedFabCore(REFERENCE_SCENARIO)
    core.step(true)
    expect([core.mode, core.prevMode, core.coherenceScore, core.degraded]).toEqual(['FAB1', 'FAB2', 0.4, true])
    core.step(false)
    expect(core.coherenceScore).toBe(0.45)
    core.step(true)
    core.step(true)
    expect(core.mode).toBe('FAB0')
    for (let i = 0; i < 20; i++) core.step(false)
    expect(core.coherenceScore).toBe(0.9)
    expect(core.currentTick).toBe(24)
  })
})

describe('formatting', () => {
  it('prints the table header and one line per row', () => {
    const text = formatTable(runScenario().rows)
    const lines = text.split('\n')
    expect(lines[0]?.replace(/\s+/g, ' ').trim()).toBe('TICK | MODE | SCORE | EMA | STABLE | DEGRAD | RECOMMENDED')
    expect(lines).toHaveLength(12)
    expect(lines[3]).toMatch(/^ +20 \| +FAB1 \| +0\.400 \| +0\.586 \|/)
  })

  it('prints metrics and checks', () => {
    const result = runScenario()
    expect(formatMetrics(result.final)).toMatch(/stabilityScoreEma\s+0\.3040291910375369/)
    expect(formatChecks([{ name: 'x', ok: false, detail: 'y' }])).toBe('  ✗ x (y)')
    expect(formatChecks([{ name: 'x', ok: true, detail: 'y' }])).toBe('  ✓ x (y)')
  })
})

describe('cli', () => {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

  it('prints the table and exits 0', () => {
    const out = execFileSync(process.execPath, [cli], { encoding: 'utf8' })
    expect(out).toMatch(/TICK \| {2}MODE \| {2}SCORE/)
    expect(out).toMatch(/All checks passed/)
  })

  it('prints JSON with --json', () => {
    const out = JSON.parse(execFileSync(process.execPath, [cli, '--', '--json'], { encoding: 'utf8' }))
    expect(out.ok).toBe(true)
    expect(out.final.stableTicks).toBe(13)
  })

  it('explains itself with --help and refuses unknown arguments', () => {
    expect(execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })).toMatch(/Usage: auris-probe/)
    const bad = spawnSync(process.execPath, [cli, '--bogus'], { encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/unknown argument --bogus/)
  })
})
