import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TransitionEvent } from '@auris/stability-core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { UsageError, sloObjectives } from './args.js'
import { REFERENCE_SCENARIO, probeEnv, runScenario, windowId, type ScenarioOptions } from './simulation.js'
import { MAX_TRANSITIONS, ScoreTally, TransitionLog, formatSlo, meets, sloBreachLine, sloReport, type SloObjective } from './slo.js'

/** The oracle: sort, then the smallest value with at least p % of the values at or below it (by counting). */
function oracle(values: readonly number[], percent: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const found = sorted.find((x) => sorted.filter((y) => y <= x).length * 100 >= percent * sorted.length)
  return found as number
}

/** Runs a scenario with the metrics off, collecting every tick's score per window and every transition. */
function observed(options: ScenarioOptions): { tally: ScoreTally; scores: number[][]; events: TransitionEvent[]; result: ReturnType<typeof runScenario> } {
  const tally = new ScoreTally()
  const scores: number[][] = Array.from({ length: options.windows }, () => [])
  const events: TransitionEvent[] = []
  const result = runScenario(options, null, probeEnv(false), {
    tick: (window, score) => {
      tally.record(window, score)
      scores[window]?.push(score)
    },
    transition: (event) => events.push(event),
  })
  return { tally, scores, events, result }
}

const objective = (text: string): SloObjective => sloObjectives([text])[0] as SloObjective

describe('ScoreTally', () => {
  it('gives the sorting oracle’s nearest-rank quantile, per window and pooled (fast-check)', () => {
    // Scores as the tracker makes them (k / 30) mixed with arbitrary ones in [0, 1], duplicates likely.
    const score = fc.oneof(
      fc.integer({ min: 0, max: 30 }).map((k) => k / 30),
      fc.double({ min: 0, max: 1, noNaN: true }),
    )
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), score), { maxLength: 300 }), fc.integer({ min: 0, max: 100 }), (ticks, percent) => {
        const tally = new ScoreTally()
        const perWindow: number[][] = [[], [], [], []]
        for (const [w, s] of ticks) {
          tally.record(w, s)
          perWindow[w]?.push(s)
        }
        for (const [w, values] of perWindow.entries()) {
          expect(tally.count(w)).toBe(values.length)
          expect(tally.quantile(percent, w)).toBe(oracle(values, percent))
        }
        expect(tally.count()).toBe(ticks.length)
        expect(tally.quantile(percent)).toBe(oracle(ticks.map(([, s]) => s), percent))
      }),
      { numRuns: 300 },
    )
  })

  it('takes the rank in integers: p7 of 100 ticks is the 7th score, not the 8th (0.07 * 100 = 7.000000000000001)', () => {
    const tally = new ScoreTally()
    for (let i = 1; i <= 100; i++) tally.record(0, i / 100)
    expect(tally.quantile(7, 0)).toBe(0.07)
    expect(tally.quantile(0, 0)).toBe(0.01)
    expect(tally.quantile(100, 0)).toBe(1)
    expect(tally.quantile(50, 0)).toBe(0.5)
    expect(tally.quantile(50, 1)).toBeNaN()
  })
})

describe('the SLO figures of a run', () => {
  it('reference scenario: p50 0.3, p95 25/30, p99 0.9 of window "global", the per-tick scores the table shows', () => {
    const { tally, scores, result } = observed(REFERENCE_SCENARIO)
    // The observer sees the same scores as the report's series (read through getMetrics()).
    expect(scores[0]).toEqual(result.series.map((p) => p.score))
    expect(tally.count(0)).toBe(100)
    expect(tally.quantile(50, 0)).toBe(9 / 30)
    expect(tally.quantile(95, 0)).toBe(25 / 30)
    expect(tally.quantile(99, 0)).toBe(27 / 30)
    for (const p of [50, 95, 99]) expect(tally.quantile(p, 0)).toBe(oracle(scores[0] as number[], p))
  })

  it('seed 1, p 0.01, 1,000 ticks, 2 windows: global breaches p50>=0.8 at 11/30, window-2 meets it, pooled 1', () => {
    const options = { ...REFERENCE_SCENARIO, ticks: 1000, seed: 1, degradeProbability: 0.01, windows: 2 }
    const { tally, scores } = observed(options)
    expect([50, 95, 99].map((p) => tally.quantile(p, 0))).toEqual([11 / 30, 1, 1])
    expect([50, 95, 99].map((p) => tally.quantile(p, 1))).toEqual([1, 1, 1])
    expect([50, 95, 99].map((p) => tally.quantile(p))).toEqual([1, 1, 1])
    for (const p of [50, 95, 99]) expect(tally.quantile(p)).toBe(oracle(scores.flat(), p))

    const report = sloReport(tally, [objective('p50>=0.8'), objective('p95>0.9'), objective('p50<0.5')], windowId)
    expect(report.all).toEqual({ ticks: 2000, p50: 1, p95: 1, p99: 1 })
    expect(report.windows).toEqual({ global: { ticks: 1000, p50: 11 / 30, p95: 1, p99: 1 }, 'window-2': { ticks: 1000, p50: 1, p95: 1, p99: 1 } })
    expect(report.objectives.map((v) => [v.objective, v.met, v.breachedWindows, v.worst, v.all])).toEqual([
      ['p50>=0.8', false, 1, { windowId: 'global', value: 11 / 30 }, 1],
      ['p95>0.9', true, 0, { windowId: 'global', value: 1 }, 1],
      // For an upper bound, the worst window is the highest.
      ['p50<0.5', false, 1, { windowId: 'window-2', value: 1 }, 1],
    ])
    expect(report.ok).toBe(false)
    expect(formatSlo(report)).toEqual([
      '  ✗ p50>=0.8: BREACHED in 1 of 2 window(s) (worst p50 0.367 in window "global"; 1.000 over all windows\' ticks)',
      '  ✓ p95>0.9: met in all 2 windows (worst p95 1.000 in window "global"; 1.000 over all windows\' ticks)',
      '  ✗ p50<0.5: BREACHED in 1 of 2 window(s) (worst p50 1.000 in window "window-2"; 1.000 over all windows\' ticks)',
    ])
    expect(sloBreachLine(report)).toBe('SLO BREACHED: p50>=0.8 (p50 0.367 in window "global"); p50<0.5 (p50 1.000 in window "window-2")')
  })

  it('one window, no objective: ok, no breach line', () => {
    const { tally } = observed(REFERENCE_SCENARIO)
    const report = sloReport(tally, [], windowId)
    expect(report.ok).toBe(true)
    expect(sloBreachLine(report)).toBe(null)
    expect(formatSlo(sloReport(tally, [objective('p50 <= 0.3')], windowId))).toEqual(['  ✓ p50<=0.3: met in window (p50 0.300 in window "global")'])
  })

  it('compares with each operator, the threshold itself included or not', () => {
    expect([meets(objective('p50>=0.8'), 0.8), meets(objective('p50>0.8'), 0.8), meets(objective('p50<=0.8'), 0.8), meets(objective('p50<0.8'), 0.8)]).toEqual([true, false, true, false])
    expect([meets(objective('p50>=0.8'), 0.7), meets(objective('p50>0.8'), 0.9), meets(objective('p50<=0.8'), 0.9), meets(objective('p50<0.8'), 0.7)]).toEqual([false, true, false, true])
  })
})

describe('the transitions of a run', () => {
  it('reference scenario: the recommended mode of "global" and its filter’s effective mode, tagged with the window', () => {
    const { events } = observed(REFERENCE_SCENARIO)
    expect(events.map((e) => `${e.tick} ${e.kind} ${e.from}->${e.to} ${e.reason} ${e.held ?? ''}`.trim())).toEqual([
      '5 recommended FAB2->FAB1 ema-threshold',
      '5 held FAB2->FAB1 desired dwell',
      '24 recommended FAB1->FAB0 ema-threshold',
      '24 held FAB2->FAB0 desired dwell',
      '45 recommended FAB0->FAB1 ema-threshold',
      '45 held FAB2->FAB1 desired dwell',
      '52 recommended FAB1->FAB0 cooldown',
      '52 held FAB2->FAB0 desired dwell',
      // Dwell 50 ticks after the first difference at tick 5 (the default filter), the effective mode follows.
      '54 effective FAB2->FAB0 desired',
      '78 recommended FAB0->FAB1 ema-threshold',
      '78 held FAB0->FAB1 desired dwell',
      '80 recommended FAB1->FAB0 cooldown',
    ])
    expect(new Set(events.map((e) => e.windowId))).toEqual(new Set(['global']))
    // The tracker's events carry the EMA and score that caused them; the standalone filter's carry none.
    expect(events[0]).toMatchObject({ ema: 0.7971755312499998, score: 5 / 30 })
    expect(events[6]).toMatchObject({ kind: 'recommended', reason: 'cooldown', score: 0 })
    expect(events[1]).toMatchObject({ ema: null, score: null })
  })

  it('several windows: each tracker’s events name their window', () => {
    const { events } = observed({ ...REFERENCE_SCENARIO, windows: 3 })
    const recommended = (id: string): number => events.filter((e) => e.kind === 'recommended' && e.windowId === id).length
    expect([recommended('global'), recommended('window-2'), recommended('window-3')]).toEqual([6, 6, 6])
    expect(events.filter((e) => e.kind !== 'recommended').every((e) => e.windowId === 'global')).toBe(true)
  })

  it('counts every transition and keeps the first 10,000', () => {
    const log = new TransitionLog()
    const event = { kind: 'held', windowId: 'global', from: 'FAB2', to: 'FAB1', reason: 'desired', held: 'dwell', ema: null, score: null, tick: 1, oscillation: false } as const
    for (let i = 0; i < MAX_TRANSITIONS + 5; i++) log.add({ ...event, tick: i })
    expect(log.report.total).toBe(10_005)
    expect(log.report.byKind).toEqual({ recommended: 0, effective: 0, held: 10_005 })
    expect(log.report.events).toHaveLength(10_000)
    expect(log.report.events[9999]?.tick).toBe(9999)
    expect(log.report.truncated).toBe(true)
  })
})

describe('--slo parsing', () => {
  it('reads quantile, operator and threshold; commas and repeats', () => {
    expect(sloObjectives(['p50>=0.8'])).toEqual([{ objective: 'p50>=0.8', quantile: 'p50', operator: '>=', threshold: 0.8 }])
    expect(sloObjectives(['p95>0.5, p99 >= 1', 'p50<0', 'p50<=0.25']).map((o) => [o.objective, o.quantile, o.operator, o.threshold])).toEqual([
      ['p95>0.5', 'p95', '>', 0.5],
      ['p99>=1', 'p99', '>=', 1],
      ['p50<0', 'p50', '<', 0],
      ['p50<=0.25', 'p50', '<=', 0.25],
    ])
    expect(sloObjectives([])).toEqual([])
  })

  it('refuses anything else with a UsageError that says what it takes', () => {
    const cases: [string, string][] = [
      ['p50=0.8', '--slo takes objectives such as p50>=0.8 (p50, p95 or p99; >=, >, <= or <; a plain decimal in [0, 1]), comma-separated or repeated; got "p50=0.8"'],
      ['p50>=0.8,', '--slo takes objectives such as p50>=0.8 (p50, p95 or p99; >=, >, <= or <; a plain decimal in [0, 1]), comma-separated or repeated; got "" in "p50>=0.8,"'],
      ['median>=0.8', '--slo takes objectives such as p50>=0.8 (p50, p95 or p99; >=, >, <= or <; a plain decimal in [0, 1]), comma-separated or repeated; got "median>=0.8"'],
      ['p50>=.8', '--slo takes objectives such as p50>=0.8 (p50, p95 or p99; >=, >, <= or <; a plain decimal in [0, 1]), comma-separated or repeated; got "p50>=.8"'],
      ['p50>=-0.1', '--slo takes objectives such as p50>=0.8 (p50, p95 or p99; >=, >, <= or <; a plain decimal in [0, 1]), comma-separated or repeated; got "p50>=-0.1"'],
      ['p90>=0.8', '--slo knows the quantiles p50, p95 and p99; got "p90" in "p90>=0.8"'],
      ['p50>=1.5', '--slo thresholds are stability scores, in [0, 1]; got 1.5 in "p50>=1.5"'],
    ]
    for (const [text, message] of cases) expect(() => sloObjectives([text]), text).toThrow(new UsageError(message))
  })
})

describe('probe --slo and --json, as a process', () => {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
  const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [cli, '--no-snapshot', ...args], { encoding: 'utf8' })

  it('the note’s CI gate p50>0.8 on the reference run: exit 1, one line per objective and the breach', () => {
    const r = run('--slo', 'p50>0.8', '--slo', 'p99>=0.9')
    expect(r.status).toBe(1)
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain('\nStability score per tick (nearest rank, 100 ticks of 1 window(s)): p50 0.300, p95 0.833, p99 0.900\n')
    expect(r.stdout).toContain('\nSLO (every window must meet each objective):\n  ✗ p50>0.8: BREACHED in 1 of 1 window(s) (p50 0.300 in window "global")\n  ✓ p99>=0.9: met in window (p99 0.900 in window "global")\n')
    expect(r.stdout).toMatch(/\nAll checks passed\.\nSLO BREACHED: p50>0\.8 \(p50 0\.300 in window "global"\)\n$/)
  })

  it('a run that meets its objectives: exit 0', () => {
    const r = run('--seed', '42', '--degrade-prob', '0.005', '--ticks', '2000', '--windows', '3', '--slo', 'p50>=0.8,p95>=1')
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('  ✓ p50>=0.8: met in all 3 windows (worst p50 1.000 in window "global"; 1.000 over all windows\' ticks)\n')
    expect(r.stdout).not.toContain('BREACHED')
  })

  it('a bad objective: exit 2 and one line; not with --hysteresis, not for serve', () => {
    const bad = run('--slo', 'p90>=0.8')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toBe('auris-probe: --slo knows the quantiles p50, p95 and p99; got "p90" in "p90>=0.8"\n(auris-probe --help lists the options)\n')
    expect(run('--hysteresis', '--slo', 'p50>=0.8').stderr.split('\n')[0]).toBe('auris-probe: --slo gates the stability scenario; leave out --hysteresis')
    const serve = spawnSync(process.execPath, [cli, 'serve', '--slo', 'p50>=0.8'], { encoding: 'utf8' })
    expect(serve.status).toBe(2)
    expect(serve.stderr.split('\n')[0]).toBe('auris-probe: --slo is an option of run')
  })

  it('--json carries the SLO figures, the verdicts, the transitions, and ok false on a breach', () => {
    const r = run('--json', '--seed', '1', '--degrade-prob', '0.01', '--ticks', '1000', '--windows', '2', '--slo', 'p50>=0.8')
    expect(r.status).toBe(1)
    const out = JSON.parse(r.stdout) as {
      ok: boolean
      checks: { ok: boolean }[]
      slo: { method: string; all: unknown; windows: Record<string, unknown>; objectives: unknown[]; ok: boolean }
      transitions: { total: number; byKind: { recommended: number; effective: number; held: number }; events: TransitionEvent[]; truncated: boolean }
    }
    expect(out.checks.every((c) => c.ok)).toBe(true)
    expect(out.ok).toBe(false)
    expect(out.slo).toEqual({
      method: 'nearest-rank quantiles of the stability score of every tick; each window must meet each objective',
      all: { ticks: 2000, p50: 1, p95: 1, p99: 1 },
      windows: { global: { ticks: 1000, p50: 11 / 30, p95: 1, p99: 1 }, 'window-2': { ticks: 1000, p50: 1, p95: 1, p99: 1 } },
      objectives: [{ objective: 'p50>=0.8', quantile: 'p50', operator: '>=', threshold: 0.8, met: false, breachedWindows: 1, worst: { windowId: 'global', value: 11 / 30 }, all: 1 }],
      ok: false,
    })
    const t = out.transitions
    expect(t.total).toBe(t.byKind.recommended + t.byKind.effective + t.byKind.held)
    expect(t.events).toHaveLength(t.total)
    expect(t.truncated).toBe(false)
    expect(Object.keys(t.events[0] ?? {}).sort()).toEqual(['ema', 'from', 'held', 'kind', 'oscillation', 'reason', 'score', 'tick', 'to', 'windowId'])
    // The same run in process gives the same events.
    const { events } = observed({ ...REFERENCE_SCENARIO, ticks: 1000, seed: 1, degradeProbability: 0.01, windows: 2 })
    expect(t.events).toEqual(events)
  })

  it('--hysteresis --json carries the filter’s transitions: 26 held changes, then the one switch', () => {
    const r = spawnSync(process.execPath, [cli, '--hysteresis', '--json'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    const t = (JSON.parse(r.stdout) as { transitions: { total: number; byKind: unknown; events: TransitionEvent[]; truncated: boolean } }).transitions
    expect(t).toMatchObject({ total: 27, byKind: { recommended: 0, effective: 1, held: 26 }, truncated: false })
    // The desired mode turns to FAB1 at ticks 50, 52, ..., 98 (each time held anew after FAB2 came back) and
    // for good at 100; the dwell of 50 ticks lets it through at 149.
    const held = t.events.filter((e) => e.kind === 'held')
    expect(held.map((e) => e.tick)).toEqual([...Array.from({ length: 25 }, (_, i) => 50 + 2 * i), 100])
    expect(held.every((e) => e.from === 'FAB2' && e.to === 'FAB1' && e.held === 'dwell' && e.windowId === 'global')).toBe(true)
    expect(t.events[26]).toEqual({ kind: 'effective', windowId: 'global', from: 'FAB2', to: 'FAB1', reason: 'desired', held: null, ema: null, score: null, tick: 149, oscillation: false })
  })

  it('--json without --slo: no objectives, ok as the checks', () => {
    const out = JSON.parse(run('--json').stdout) as { ok: boolean; slo: { objectives: unknown[]; ok: boolean; all: unknown }; transitions: { total: number; byKind: unknown } }
    expect(out.ok).toBe(true)
    expect(out.slo.objectives).toEqual([])
    expect(out.slo.ok).toBe(true)
    expect(out.slo.all).toEqual({ ticks: 100, p50: 0.3, p95: 25 / 30, p99: 0.9 })
    expect(out.transitions).toMatchObject({ total: 12, byKind: { recommended: 6, effective: 1, held: 5 } })
  })
})
