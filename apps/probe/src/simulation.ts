import { attach, attachHysteresis, maybeHyst, type AttachedTracker } from '@auris/fab-hook'
import { FAMILIES, METRIC_NAMES, type StabilityExporter } from '@auris/prom-exporter'
import { DEFAULT_SCORE_BUCKETS, Hysteresis, MODE_TO_NUMERIC, modeForEma, type FabMode, type HysteresisMetrics, type StabilityMetrics } from '@auris/stability-core'
import { seededRandom } from './random.js'
import type { TransitionEvent } from '@auris/stability-core'

/** The flags the probe turns on for itself, as the reference probe does. */
export function probeEnv(metrics: boolean): Record<string, string> {
  return { AURIS_STABILITY_HOOK: 'on', AURIS_HYSTERESIS: 'on', AURIS_METRICS_EXP: metrics ? 'on' : 'off' }
}

export interface ScenarioOptions {
  /** Ticks to run. */
  ticks: number
  /** Ticks (1-based) at which the core degrades; ignored when `seed` is set. */
  schedule: readonly number[]
  /** With a seed, each tick of each window degrades with probability `degradeProbability`. */
  seed?: number
  degradeProbability: number
  /** Windows to simulate: `global`, then `window-2`, `window-3`, … */
  windows: number
  baseScore: number
  degradedScore: number
  recovery: number
  emaDecay: number
  minStableTicks: number
}

/** The reference scenario: the probe's defaults. */
export const REFERENCE_SCENARIO: Readonly<ScenarioOptions> = Object.freeze({
  ticks: 100,
  schedule: Object.freeze([20, 50, 80]),
  degradeProbability: 0.03,
  windows: 1,
  baseScore: 0.9,
  degradedScore: 0.4,
  recovery: 0.05,
  emaDecay: 0.95,
  minStableTicks: 30,
})

/** The reference's final figures for its scenario (first case of the reference vectors). */
export const REFERENCE_FINAL = Object.freeze({ stabilityScoreEma: 0.3040291910375369, stableTicks: 13, degradationCount: 3, recommendedMode: 'FAB0' })

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

/** The id of window `i` (0-based). */
export function windowId(i: number): string {
  return i === 0 ? 'global' : `window-${String(i + 1)}`
}

/** Decides, tick by tick, whether a window degrades: a fixed schedule, or seeded coin flips. */
export function degradationPlan(options: Pick<ScenarioOptions, 'schedule' | 'seed' | 'degradeProbability'>): (tick: number, window: number) => boolean {
  if (options.seed === undefined) {
    const at = new Set(options.schedule)
    return (tick) => at.has(tick)
  }
  const random = seededRandom(options.seed)
  return () => random() < options.degradeProbability
}

/** One printed row of the probe table. */
export interface ProbeRow {
  tick: number
  mode: FabMode
  /** The core's own quality sample fed to the tracker (not the stability score). */
  sample: number
  metrics: StabilityMetrics
}

/** The `global` window at one tick, for the HTML report's charts. */
export interface SeriesPoint {
  /** Tick (run) or seconds since start (serve). */
  x: number
  /** Instantaneous stability score. */
  score: number
  ema: number
  /** Recommended mode, 0 (FAB0) to 2 (FAB2). */
  recommended: number
  /** Effective mode after the anti-chatter filter, 0 to 2. */
  effective: number
  cooldownRemaining: number
  /** Degradation events since the previous point. */
  events: number
}

export interface ScenarioResult {
  rows: ProbeRow[]
  final: StabilityMetrics
  /** Degradations injected into the global window. */
  injected: number
  hooks: AttachedTracker[]
  /** Every tick of the global window, with the effective mode of a default anti-chatter filter fed its recommendations. */
  series: SeriesPoint[]
}

/** The default `serve` story, in ticks: at the default 10 ms a tick, 1 min healthy, 4 min degrading, 3 min recovering. */
export const CYCLE = Object.freeze({ healthyTicks: 6000, degradingTicks: 24_000, recoveringTicks: 18_000, degradeProbability: 0.005 })

/** A phase of the default `serve` story. */
export type CyclePhase = 'healthy' | 'degrading' | 'recovering'

/** The phase of the story at tick `tick` (1-based, counted from the start of the run). */
export function cyclePhase(tick: number): CyclePhase {
  const t = (tick - 1) % (CYCLE.healthyTicks + CYCLE.degradingTicks + CYCLE.recoveringTicks)
  if (t < CYCLE.healthyTicks) return 'healthy'
  return t < CYCLE.healthyTicks + CYCLE.degradingTicks ? 'degrading' : 'recovering'
}

/**
 * Runs the scenario through the hook: each window's core ticks, `attach`'s
 * tick reads it into a tracker and pushes the tracker to the exporter (when
 * given), as the reference's probe does. The tracker's clock is the tick
 * number in seconds, so events per hour do not depend on how fast it runs.
 */
export function runScenario(options: ScenarioOptions = REFERENCE_SCENARIO, exporter?: StabilityExporter | null, env = probeEnv(true), observer?: ScenarioObserver): ScenarioResult {
  let tick = 0
  const plan = degradationPlan(options)
  const cores = Array.from({ length: options.windows }, () => new SimulatedFabCore(options))
  const hooks = cores.map((core, i) => {
    const hook = attach(core, {
      decay: options.emaDecay,
      minStableTicks: options.minStableTicks,
      // The score histogram, for the SLO quantiles of the run.
      scoreBuckets: DEFAULT_SCORE_BUCKETS,
      clock: () => tick * 1000,
      env,
      windowId: windowId(i),
      ...(exporter ? { exporter } : {}),
    })
    if (hook === null) throw new Error('AURIS_STABILITY_HOOK is off: the probe needs it on')
    return hook
  })
  const rows: ProbeRow[] = []
  const series: SeriesPoint[] = []
  const filter = new Hysteresis({ clock: () => tick * 1000 })
  if (observer !== undefined) observe(observer, hooks, filter)
  let injected = 0
  let counted = 0
  for (tick = 1; tick <= options.ticks; tick++) {
    for (const [i, core] of cores.entries()) {
      const degrade = plan(tick, i)
      core.step(degrade)
      const hook = hooks[i] as AttachedTracker
      hook.tick()
      observer?.tick(i, hook.tracker.stabilityScore())
      if (i !== 0) continue
      // Only window 0 is charted: the other windows' ticks build no metrics object.
      const metrics = hook.tracker.getMetrics()
      if (degrade) injected++
      if (degrade || tick % 10 === 0) rows.push({ tick, mode: core.mode, sample: core.coherenceScore, metrics })
      const effective = filter.update(metrics.recommendedMode, tick)
      series.push({
        x: tick,
        score: metrics.stabilityScore,
        ema: metrics.stabilityScoreEma,
        recommended: MODE_TO_NUMERIC[metrics.recommendedMode],
        effective: MODE_TO_NUMERIC[effective],
        cooldownRemaining: metrics.cooldownRemaining,
        events: metrics.totalDegradations - counted,
      })
      counted = metrics.totalDegradations
    }
  }
  tick = options.ticks
  return { rows, final: (hooks[0] as AttachedTracker).tracker.getMetrics(), injected, hooks, series }
}

/** Sees every tick's score of every window of a scenario run, and every transition (for the SLO and `--json`). */
export interface ScenarioObserver {
  /** Window `window` (0-based) ticked and its tracker scored `score`. */
  tick(window: number, score: number): void
  /** A tracker's recommended mode changed, or the `global` window's filter switched or held a change back. */
  transition(event: TransitionEvent): void
}

// Standalone trackers and filters report no window id: the events get the window's.
function observe(observer: ScenarioObserver, hooks: readonly AttachedTracker[], filter: Hysteresis): void {
  for (const [i, hook] of hooks.entries()) {
    const id = windowId(i)
    hook.tracker.onTransition((e) => {
      observer.transition({ ...e, windowId: id })
    })
  }
  filter.onTransition((e) => {
    observer.transition({ ...e, windowId: windowId(0) })
  })
}

/** The anti-chatter scenario of the reference probe. */
export const HYSTERESIS_SCENARIO = Object.freeze({ dwellTicks: 50, rateLimitTicks: 1000 })

/** Desired modes: 50 × FAB2, 25 × (FAB1, FAB2), 50 × FAB1. */
export function chatteringDesire(): FabMode[] {
  const desired: FabMode[] = []
  for (let i = 0; i < 50; i++) desired.push('FAB2')
  for (let i = 0; i < 25; i++) desired.push('FAB1', 'FAB2')
  for (let i = 0; i < 50; i++) desired.push('FAB1')
  return desired
}

export interface HysteresisResult {
  desiredSwitches: number
  effectiveSwitches: number
  /** 1 - effective / desired. */
  reduction: number
  final: HysteresisMetrics
}

/** Feeds the chattering desire through the hysteresis hook (and the exporter, when given); `onTransition` sees the filter's transitions. */
export function runHysteresisProbe(exporter?: StabilityExporter | null, env = probeEnv(true), onTransition?: (event: TransitionEvent) => void): HysteresisResult {
  const core = new SimulatedFabCore(REFERENCE_SCENARIO)
  const hysteresis = attachHysteresis(core, { ...HYSTERESIS_SCENARIO, clock: () => 0, env })
  if (hysteresis === null) throw new Error('AURIS_HYSTERESIS is off: the probe needs it on')
  if (onTransition !== undefined) hysteresis.onTransition((e) => {
    onTransition({ ...e, windowId: 'global' })
  })
  const desired = chatteringDesire()
  let desiredSwitches = 0
  let effectiveSwitches = 0
  let previousDesired: FabMode = 'FAB2'
  let previousEffective: FabMode = hysteresis.effectiveMode
  for (const [tick, mode] of desired.entries()) {
    if (mode !== previousDesired) desiredSwitches++
    previousDesired = mode
    const effective = maybeHyst(core, { hysteresis, metrics: { recommendedMode: mode }, tick, env, windowId: 'global', ...(exporter ? { exporter } : {}) })
    if (effective !== previousEffective) effectiveSwitches++
    previousEffective = effective ?? previousEffective
  }
  return {
    desiredSwitches,
    effectiveSwitches,
    reduction: desiredSwitches === 0 ? 0 : 1 - effectiveSwitches / desiredSwitches,
    final: hysteresis.getMetrics(),
  }
}

/** A named self-check. */
export interface Check {
  name: string
  ok: boolean
  detail: string
}

/** The probe's checks on a finished scenario; `snapshot` is the exposition's sample lines (or null without metrics). */
export function checkScenario(result: ScenarioResult, options: ScenarioOptions, snapshot: readonly string[] | null): Check[] {
  const m = result.final
  const checks: Check[] = [
    { name: 'EMA in [0, 1]', ok: m.stabilityScoreEma >= 0 && m.stabilityScoreEma <= 1, detail: String(m.stabilityScoreEma) },
    {
      name: 'degradation events counted as injected',
      ok: m.degradationCount === result.injected,
      detail: `${String(result.injected)} injected, ${String(m.degradationCount)} counted`,
    },
    {
      name: 'recommended mode matches the EMA',
      ok: m.recommendedMode === modeForEma(m.stabilityScoreEma),
      detail: `${m.recommendedMode} for EMA ${m.stabilityScoreEma.toFixed(3)}`,
    },
  ]
  if (snapshot !== null) {
    const ema = snapshot.find((line) => line.startsWith('atlas_stability_score_ema{window_id="global"} '))
    checks.push({ name: 'EMA gauge exported', ok: ema !== undefined, detail: ema ?? 'missing' })
    const counter = snapshot.find((l) => l.startsWith('atlas_degradation_count_total{window_id="global"} '))
    checks.push({
      name: 'degradation counter exported as injected',
      ok: counter === `atlas_degradation_count_total{window_id="global"} ${String(result.injected)}`,
      detail: counter === undefined ? 'missing' : `${counter}, ${String(result.injected)} injected`,
    })
  }
  if (isReferenceScenario(options)) {
    const same =
      m.stabilityScoreEma === REFERENCE_FINAL.stabilityScoreEma &&
      m.stableTicks === REFERENCE_FINAL.stableTicks &&
      m.degradationCount === REFERENCE_FINAL.degradationCount &&
      m.recommendedMode === REFERENCE_FINAL.recommendedMode
    const actual = `EMA ${String(m.stabilityScoreEma)}, ${String(m.stableTicks)} stable ticks, ${String(m.degradationCount)} events, ${m.recommendedMode}`
    const expected = `EMA ${String(REFERENCE_FINAL.stabilityScoreEma)}, ${String(REFERENCE_FINAL.stableTicks)} stable ticks, ${String(REFERENCE_FINAL.degradationCount)} events, ${REFERENCE_FINAL.recommendedMode}`
    checks.push({
      name: 'final state equals the Python reference implementation on this scenario',
      ok: same,
      detail: same ? actual : `${actual}; expected ${expected}`,
    })
  }
  return checks
}

/** Whether `options` is the reference scenario (any number of windows). */
export function isReferenceScenario(options: ScenarioOptions): boolean {
  const r = REFERENCE_SCENARIO
  return (
    options.seed === undefined &&
    options.ticks === r.ticks &&
    options.schedule.join(',') === r.schedule.join(',') &&
    options.baseScore === r.baseScore &&
    options.degradedScore === r.degradedScore &&
    options.recovery === r.recovery &&
    options.emaDecay === r.emaDecay &&
    options.minStableTicks === r.minStableTicks
  )
}

/** The anti-chatter series of a window (the exporter's filter families), all checked and printed by the anti-chatter probe. */
export const HYSTERESIS_SERIES: readonly string[] = Object.freeze(FAMILIES.filter((f) => f.scope === 'filter').map((f) => METRIC_NAMES[f.suffix]))

/** The anti-chatter probe's checks. */
export function checkHysteresis(result: HysteresisResult, snapshot: readonly string[] | null): Check[] {
  const checks: Check[] = [
    { name: 'switch reduction >= 50 %', ok: result.reduction >= 0.5, detail: `${(result.reduction * 100).toFixed(0)} %` },
    {
      name: 'effective switches = filter switch count',
      ok: result.effectiveSwitches === result.final.switchCount,
      detail: `${String(result.effectiveSwitches)} vs ${String(result.final.switchCount)}`,
    },
  ]
  if (snapshot !== null) {
    const missing = HYSTERESIS_SERIES.filter((name) => !snapshot.some((line) => line.startsWith(`${name}{window_id="global"} `)))
    const found = HYSTERESIS_SERIES.length - missing.length
    checks.push({
      name: 'anti-chatter series exported',
      ok: missing.length === 0,
      detail: `${String(found)} of ${String(HYSTERESIS_SERIES.length)}${missing.length === 0 ? '' : `; missing ${missing.join(', ')}`}`,
    })
  }
  return checks
}
