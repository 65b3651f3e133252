import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createStabilityExporter } from '@auris/prom-exporter'
import { describe, expect, it } from 'vitest'
import { formatChecks, formatHysteresis, formatMetrics, formatTable } from './format.js'
import {
  HYSTERESIS_SERIES,
  REFERENCE_SCENARIO,
  SimulatedFabCore,
  chatteringDesire,
  checkHysteresis,
  checkScenario,
  cyclePhase,
  degradationPlan,
  isReferenceScenario,
  probeEnv,
  runHysteresisProbe,
  runScenario,
  windowId,
} from './simulation.js'
import { sampleLines, windowLines } from './snapshot.js'

describe('reference scenario', () => {
  it('ends on the reference figures, through the hook and the exporter', async () => {
    const exporter = createStabilityExporter()
    const result = runScenario(REFERENCE_SCENARIO, exporter)
    // The first case of the reference vectors (stability-core's conformance fixture).
    expect(result.final).toMatchObject({ stabilityScoreEma: 0.3040291910375369, stableTicks: 13, degradationCount: 3, recommendedMode: 'FAB0', degradationEventsPerHour: 3 })
    expect(result.injected).toBe(3)
    const lines = sampleLines(await exporter.metrics())
    expect(lines).toContain('atlas_degradation_count_total{window_id="global"} 3')
    const checks = checkScenario(result, REFERENCE_SCENARIO, lines)
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['EMA in [0, 1]', true],
      ['degradation events counted as injected', true],
      ['recommended mode matches the EMA', true],
      ['EMA gauge exported', true],
      ['degradation counter exported as injected', true],
      ['final state equals the Python reference implementation on this scenario', true],
    ])
    // Each line says a thing once: the claim, then what was seen.
    expect(checks.map((c) => c.detail)).toEqual([
      '0.3040291910375369',
      '3 injected, 3 counted',
      'FAB0 for EMA 0.304',
      'atlas_stability_score_ema{window_id="global"} 0.3040291910375369',
      'atlas_degradation_count_total{window_id="global"} 3, 3 injected',
      'EMA 0.3040291910375369, 13 stable ticks, 3 events, FAB0',
    ])
  })

  it('records a row every 10 ticks and on each degradation', () => {
    expect(runScenario().rows.map((r) => r.tick)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    expect(runScenario({ ...REFERENCE_SCENARIO, schedule: [15, 33] }).rows.map((r) => r.tick)).toEqual([10, 15, 20, 30, 33, 40, 50, 60, 70, 80, 90, 100])
  })

  it('names the failing check when the tracker disagrees with the snapshot', () => {
    const result = runScenario()
    const checks = checkScenario({ ...result, injected: 2 }, REFERENCE_SCENARIO, ['atlas_degradation_count_total{window_id="global"} 3'])
    expect(checks.filter((c) => !c.ok).map((c) => [c.name, c.detail])).toEqual([
      ['degradation events counted as injected', '2 injected, 3 counted'],
      ['EMA gauge exported', 'missing'],
      ['degradation counter exported as injected', 'atlas_degradation_count_total{window_id="global"} 3, 2 injected'],
    ])
    expect(checkScenario(result, REFERENCE_SCENARIO, []).find((c) => c.name.startsWith('degradation counter'))?.detail).toBe('missing')
    const off = checkScenario({ ...result, final: { ...result.final, stableTicks: 12 } }, REFERENCE_SCENARIO, null).at(-1)
    expect(off).toEqual({
      name: 'final state equals the Python reference implementation on this scenario',
      ok: false,
      detail: 'EMA 0.3040291910375369, 12 stable ticks, 3 events, FAB0; expected EMA 0.3040291910375369, 13 stable ticks, 3 events, FAB0',
    })
    expect(checkScenario(result, { ...REFERENCE_SCENARIO, ticks: 99 }, null).map((c) => c.name)).not.toContain(expect.stringMatching(/reference/))
  })

  it('checks the recommended mode in every band', () => {
    for (const [ticks, mode] of [
      [10, 'FAB1'],
      [100, 'FAB2'],
    ] as const) {
      const options = { ...REFERENCE_SCENARIO, ticks, schedule: [] }
      const result = runScenario(options)
      expect(result.final.recommendedMode).toBe(mode)
      expect(checkScenario(result, options, null).every((c) => c.ok)).toBe(true)
    }
  })

  it('runs many windows and seeded random degradations, reproducibly', () => {
    const options = { ...REFERENCE_SCENARIO, ticks: 500, windows: 4, seed: 9 }
    const a = runScenario(options)
    const b = runScenario(options)
    expect(a.final).toEqual(b.final)
    expect(a.hooks).toHaveLength(4)
    expect(a.final.degradationCount).toBe(a.injected)
    expect(a.injected).toBeGreaterThan(0)
    expect(isReferenceScenario(options)).toBe(false)
    expect(isReferenceScenario({ ...REFERENCE_SCENARIO, windows: 7 })).toBe(true)
  })

  it('refuses to run with the hook switched off', () => {
    expect(() => runScenario(REFERENCE_SCENARIO, null, { ...probeEnv(true), AURIS_STABILITY_HOOK: 'off' })).toThrow(/AURIS_STABILITY_HOOK is off/)
    expect(() => runHysteresisProbe(null, { ...probeEnv(true), AURIS_HYSTERESIS: 'off' })).toThrow(/AURIS_HYSTERESIS is off/)
  })
})

describe('anti-chatter probe', () => {
  it('reduces 51 desired switches to 1, as the reference', async () => {
    const exporter = createStabilityExporter()
    const result = runHysteresisProbe(exporter)
    expect(chatteringDesire()).toHaveLength(150)
    expect(result).toMatchObject({ desiredSwitches: 51, effectiveSwitches: 1 })
    expect(result.reduction).toBeCloseTo(50 / 51, 10)
    const lines = sampleLines(await exporter.metrics())
    expect(checkHysteresis(result, lines).every((c) => c.ok)).toBe(true)
    expect(checkHysteresis({ ...result, reduction: 0.2 }, []).filter((c) => !c.ok).map((c) => c.name)).toEqual(['switch reduction >= 50 %', 'anti-chatter series exported'])
    expect(checkHysteresis(result, lines).at(-1)?.detail).toBe('8 of 8')
    // The design's eight anti-chatter names, in the exporter's order (the probe derives them from the exporter's families).
    expect(HYSTERESIS_SERIES).toEqual([
      'atlas_hyst_effective_mode',
      'atlas_hyst_desired_mode',
      'atlas_hyst_dwell_ticks',
      'atlas_hyst_last_switch_age_ticks',
      'atlas_hyst_switches_total',
      'atlas_hyst_oscillations_total',
      'atlas_hyst_switches_per_second',
      'atlas_hyst_oscillations_per_second',
    ])
    expect(checkHysteresis(result, lines.filter((l) => !l.startsWith('atlas_hyst_dwell_ticks'))).at(-1)?.detail).toBe('7 of 8; missing atlas_hyst_dwell_ticks')
  })
})

describe('pieces', () => {
  it('tells the default serve story in phases', () => {
    expect([1, 6000, 6001, 30_000, 30_001, 48_000, 48_001, 54_001].map(cyclePhase)).toEqual([
      'healthy',
      'healthy',
      'degrading',
      'degrading',
      'recovering',
      'recovering',
      'healthy',
      'degrading',
    ])
  })

  it('records every tick of the global window for the report', () => {
    const result = runScenario()
    expect(result.series).toHaveLength(100)
    expect(result.series.reduce((n, p) => n + p.events, 0)).toBe(3)
    expect(result.series[19]).toMatchObject({ x: 20, score: 0, events: 1, cooldownRemaining: 2 })
    expect(result.series.at(-1)).toMatchObject({ x: 100, ema: 0.3040291910375369, recommended: 0 })
  })

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

  it('names windows and plans degradations', () => {
    expect([0, 1, 9].map(windowId)).toEqual(['global', 'window-2', 'window-10'])
    const fixed = degradationPlan({ schedule: [3], degradeProbability: 0 })
    expect([1, 2, 3, 4].map((t) => fixed(t, 0))).toEqual([false, false, true, false])
    const never = degradationPlan({ schedule: [], seed: 1, degradeProbability: 0 })
    expect(never(1, 0)).toBe(false)
  })

  it('keeps sample lines and picks a window, escaping its id', () => {
    const lines = sampleLines('# HELP a x\n# TYPE a gauge\na{window_id="g"} 1\n\na{window_id="q\\"x"} 2\n')
    expect(lines).toEqual(['a{window_id="g"} 1', 'a{window_id="q\\"x"} 2'])
    expect(windowLines(lines, 'q"x')).toEqual(['a{window_id="q\\"x"} 2'])
  })
})

describe('formatting', () => {
  it('prints the table header and one line per row', () => {
    const lines = formatTable(runScenario().rows).split('\n')
    expect(lines[0]?.replace(/\s+/g, ' ').trim()).toBe('TICK | MODE | SAMPLE | SCORE | EMA | STABLE | DEGRAD | RECOMMENDED')
    expect(lines).toHaveLength(12)
    // SAMPLE is the core's sample (0.4 on a degradation); SCORE the stability score (0 in the cool-down).
    expect(lines[3]).toMatch(/^ +20 \| +FAB1 \| +0\.400 \| +0\.000 \| +0\.586 \|/)
    expect(lines[2]).toMatch(/^ +10 \| +FAB2 \| +0\.900 \| +0\.333 \| +0\.678 \| +10 \|/)
  })

  it('prints metrics, checks and the anti-chatter summary', () => {
    expect(formatMetrics(runScenario().final)).toMatch(/stabilityScoreEma\s+0\.3040291910375369/)
    expect(formatChecks([{ name: 'x', ok: false, detail: 'y' }])).toBe('  ✗ x (y)')
    expect(formatChecks([{ name: 'x', ok: true, detail: 'y' }])).toBe('  ✓ x (y)')
    expect(formatHysteresis(runHysteresisProbe())).toMatch(/desired switches +51\n +effective switches +1\n +reduction +98 %/)
  })
})

describe('cli', () => {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
  const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })

  it('prints the table, the snapshot and the checks, and exits 0', () => {
    const out = execFileSync(process.execPath, [cli], { encoding: 'utf8' })
    expect(out).toMatch(/TICK \| {2}MODE \| SAMPLE \| {2}SCORE/)
    expect(out).toMatch(/^atlas_degradation_count_total\{window_id="global"\} 3$/m)
    expect(out).not.toMatch(/^# /m)
    expect(out).toMatch(/All checks passed/)
  })

  it('prints JSON with --json (pnpm passes the -- through)', () => {
    const out = JSON.parse(execFileSync(process.execPath, [cli, '--', '--json'], { encoding: 'utf8' }))
    expect(out.ok).toBe(true)
    expect(out.final.stableTicks).toBe(13)
    expect(out.snapshot).toContain('atlas_degradation_count_total{window_id="global"} 3')
  })

  it('runs the anti-chatter probe with --hysteresis', () => {
    const r = run('--hysteresis')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/desired switches +51/)
    expect(r.stdout).toMatch(/^atlas_hyst_switches_total\{window_id="global"\} 1$/m)
  })

  it('refuses a snapshot with --metrics off, and runs without one', () => {
    const refused = run('--metrics', 'off')
    expect(refused.status).toBe(2)
    expect(refused.stderr).toMatch(/the Prometheus snapshot needs metrics: drop --metrics off, or add --no-snapshot/)
    const ok = run('--metrics', 'off', '--no-snapshot')
    expect(ok.status).toBe(0)
    expect(ok.stdout).not.toMatch(/Prometheus snapshot/)
  })

  it('explains itself with --help and refuses bad arguments with status 2', () => {
    expect(run('--help').stdout).toMatch(/Usage: auris-probe \[run\] \[options\]/)
    for (const args of [['--bogus'], ['--ticks', '0'], ['--schedule', 'a'], ['serve', '--ticks', '5'], ['dance']]) {
      const r = run(...args)
      expect(r.status, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(/auris-probe: /)
    }
  })
})
