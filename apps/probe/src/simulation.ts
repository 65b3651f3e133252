import { StabilityTracker, type FabMode, type StabilityMetrics } from '@auris/stability-core'

/** The reference scenario: the probe's defaults. */
export const REFERENCE_SCENARIO: Readonly<ScenarioOptions> = Object.freeze({
  ticks: 100,
  schedule: Object.freeze([20, 50, 80]),
  baseScore: 0.9,
  degradedScore: 0.4,
  recovery: 0.05,
  emaDecay: 0.95,
  minStableTicks: 30,
})

export interface ScenarioOptions {
  /** Ticks to run. */
  ticks: number
  /** Ticks (1-based) at which the core degrades. */
  schedule: readonly number[]
  /** Score of a healthy core. */
  baseScore: number
  /** Score right after a degradation. */
  degradedScore: number
  /** Score regained per tick after a degradation, up to `baseScore`. */
  recovery: number
  emaDecay: number
  minStableTicks: number
}

/** A stand-in for a FAB core: a score, a mode that steps down on each degradation, a degraded flag. */
export class SimulatedFabCore {
  coherenceScore: number
  mode: FabMode = 'FAB2'
  prevMode: FabMode = 'FAB2'
  degraded = false
  currentTick = 0

  constructor(private readonly options: Pick<ScenarioOptions, 'baseScore' | 'degradedScore' | 'recovery'>) {
    this.coherenceScore = options.baseScore
  }

  /** Advances one tick; degrades when `degrade` is set. */
  step(degrade: boolean): void {
    this.currentTick++
    this.prevMode = this.mode
    this.degraded = degrade
    if (degrade) {
      this.coherenceScore = this.options.degradedScore
      this.mode = this.mode === 'FAB2' ? 'FAB1' : 'FAB0'
    } else if (this.coherenceScore < this.options.baseScore) {
      // Accumulated addition, like the reference simulation (0.55 + 0.05 = 0.6000000000000001).
      this.coherenceScore = Math.min(this.options.baseScore, this.coherenceScore + this.options.recovery)
    }
  }
}

/** One printed row of the probe table. */
export interface ProbeRow {
  tick: number
  mode: FabMode
  score: number
  metrics: StabilityMetrics
}

export interface ScenarioResult {
  rows: ProbeRow[]
  final: StabilityMetrics
  tracker: StabilityTracker
}

/**
 * Runs the scenario: ticks the core, feeds the tracker, and records a row
 * every 10 ticks and on each degradation. The tracker's clock is the tick
 * number in seconds, so events per hour do not depend on how fast it runs.
 */
export function runScenario(options: ScenarioOptions = REFERENCE_SCENARIO): ScenarioResult {
  let tick = 0
  const tracker = new StabilityTracker({ emaDecay: options.emaDecay, minStableTicks: options.minStableTicks, clock: () => tick * 1000 })
  const core = new SimulatedFabCore(options)
  const degradeAt = new Set(options.schedule)
  const rows: ProbeRow[] = []
  for (tick = 1; tick <= options.ticks; tick++) {
    const degrade = degradeAt.has(tick)
    core.step(degrade)
    tracker.tick(core.coherenceScore, core.degraded)
    if (degrade || tick % 10 === 0) rows.push({ tick, mode: core.mode, score: core.coherenceScore, metrics: tracker.getMetrics() })
  }
  tick = options.ticks
  return { rows, final: tracker.getMetrics(), tracker }
}

/** A named self-check. */
export interface Check {
  name: string
  ok: boolean
  detail: string
}

/** The probe's self-checks on a finished run. */
export function checkScenario(result: ScenarioResult, options: ScenarioOptions = REFERENCE_SCENARIO): Check[] {
  const m = result.final
  const expectedEvents = options.schedule.filter((t) => t >= 1 && t <= options.ticks).length
  return [
    { name: 'EMA in [0, 1]', ok: m.stabilityScoreEma >= 0 && m.stabilityScoreEma <= 1, detail: String(m.stabilityScoreEma) },
    {
      name: `exactly ${String(expectedEvents)} degradation events`,
      ok: m.degradationCount === expectedEvents,
      detail: `counted ${String(m.degradationCount)}`,
    },
    { name: 'recommended mode matches the EMA', ok: m.recommendedMode === modeOf(m.stabilityScoreEma), detail: m.recommendedMode },
  ]
}

function modeOf(ema: number): FabMode {
  return ema >= 0.8 ? 'FAB2' : ema >= 0.5 ? 'FAB1' : 'FAB0'
}
