import { MODE_TO_NUMERIC, isFabMode } from '@auris/stability-core'

/**
 * What the hook reads from a FAB core. Every field is optional and read
 * defensively, so a TypeScript core and a state object received as JSON from
 * a Python core (snake_case names) both work unchanged.
 */
export interface FabCoreLike {
  /** State with metrics; `st.metrics.stress` in [0, 1] gives the score `1 - stress` (first choice). */
  readonly st?: {
    /** The core's metrics. */
    readonly metrics?: {
      /** Stress in [0, 1]. */
      readonly stress?: unknown
    } | null
  } | null
  /** Score in [0, 1] (second choice). */
  readonly coherenceScore?: unknown
  /** `coherenceScore` as a Python core names it. */
  readonly coherence_score?: unknown
  /** Score in [0, 1] (third choice). */
  readonly qualityScore?: unknown
  /** `qualityScore` as a Python core names it. */
  readonly quality_score?: unknown
  /** Explicit degradation flag. */
  readonly degraded?: unknown
  /** Mode now; a drop in rank from the previous mode is a degradation. */
  readonly mode?: unknown
  /** Mode at the previous tick. */
  readonly prevMode?: unknown
  /** `prevMode` as a Python core names it. */
  readonly _prev_mode?: unknown
  /** Tick counter. */
  readonly currentTick?: unknown
  /** `currentTick` as a Python core names it. */
  readonly current_tick?: unknown
}

/** Score used when the core exposes none: "reasonable quality", as the reference. */
export const DEFAULT_SCORE = 0.8

function present(value: unknown): boolean {
  return value !== undefined && value !== null
}

function first(a: unknown, b: unknown): unknown {
  return present(a) ? a : b
}

/** Whether the hook can read fields of `fab` at all: `null`, `undefined` and primitives are not cores. */
function isCore(fab: unknown): fab is FabCoreLike {
  return (typeof fab === 'object' && fab !== null) || typeof fab === 'function'
}

function scoreOf(fab: FabCoreLike): number {
  const st = fab.st
  const stress = present(st) ? (st as { metrics?: { stress?: unknown } | null }).metrics?.stress : undefined
  if (present(stress)) return typeof stress === 'number' ? 1 - stress : Number.NaN
  const score = first(first(fab.coherenceScore, fab.coherence_score), first(fab.qualityScore, fab.quality_score))
  if (!present(score)) return DEFAULT_SCORE
  return typeof score === 'number' ? score : Number.NaN
}

function degradationOf(fab: FabCoreLike): boolean {
  if (fab.degraded === true) return true
  const mode = fab.mode
  const previous = first(fab.prevMode, fab._prev_mode)
  if (!isFabMode(mode) || !isFabMode(previous)) return false
  return MODE_TO_NUMERIC[mode] < MODE_TO_NUMERIC[previous]
}

/**
 * The core's quality score: `1 - st.metrics.stress`, else `coherenceScore`
 * (`coherence_score`), else `qualityScore` (`quality_score`), else 0.8.
 *
 * A source that is present but not a finite number (`"0.9"`, `NaN`, an
 * object) yields `NaN` rather than falling through to the next source: the
 * tracker then ignores the sample and counts it in `invalidSamples`, so a
 * broken core shows up in the metrics instead of being papered over with
 * another value. `null` and `undefined` fields count as absent. A core that
 * cannot be read (`null`, a primitive, a throwing getter, a revoked Proxy)
 * yields `NaN` too: this never throws.
 *
 * @example
 * ```ts
 * extractFabScore({ st: { metrics: { stress: 0.25 } } }) // 0.75
 * extractFabScore({ coherence_score: 0.7 })              // 0.7
 * extractFabScore({})                                    // 0.8
 * extractFabScore(JSON.parse('null'))                    // NaN
 * ```
 */
export function extractFabScore(fab: FabCoreLike | null | undefined): number {
  if (!isCore(fab)) return Number.NaN
  try {
    return scoreOf(fab)
  } catch {
    return Number.NaN
  }
}

/**
 * Whether the core degraded this tick: the `degraded` flag when it is
 * `true`, else a drop in mode rank from `prevMode` (`_prev_mode`) to `mode`
 * (`FAB2` → `FAB1`, say). Unknown modes (`"FAB9"`) never count as a drop; a
 * core that cannot be read gives `false`. Never throws.
 *
 * @example
 * ```ts
 * detectDegradation({ degraded: true })                      // true
 * detectDegradation({ _prev_mode: 'FAB2', mode: 'FAB1' })   // true
 * detectDegradation({ prevMode: 'FAB0', mode: 'FAB9' })     // false
 * ```
 */
export function detectDegradation(fab: FabCoreLike | null | undefined): boolean {
  if (!isCore(fab)) return false
  try {
    return degradationOf(fab)
  } catch {
    return false
  }
}

/**
 * The core's tick counter (`currentTick`, `current_tick`) rounded down to
 * an integer, or `undefined` when it has no usable one (absent, not a
 * number, `NaN`, ±Infinity, or the core cannot be read). Never throws.
 *
 * @example
 * ```ts
 * readTick({ current_tick: 12 })  // 12
 * readTick({ currentTick: 2.5 })  // 2
 * readTick({ currentTick: NaN })  // undefined
 * ```
 */
export function readTick(fab: FabCoreLike | null | undefined): number | undefined {
  if (!isCore(fab)) return undefined
  try {
    const tick = first(fab.currentTick, fab.current_tick)
    return typeof tick === 'number' && tick - tick === 0 ? Math.floor(tick) : undefined
  } catch {
    return undefined
  }
}

/**
 * Reads one sample (score and degradation) with every field read once, so
 * a core that changes its answers between reads cannot mix two states. A
 * core that cannot be read, or throws on any field, gives a `NaN` score:
 * the tracker then ignores the sample and counts it as invalid.
 *
 * @internal
 */
export class SampleReader {
  /** The score of the last sample read (`NaN` when the core could not be read). */
  score = Number.NaN
  /** The degradation of the last sample read. */
  degraded = false

  /**
   * Reads `fab` into {@link SampleReader.score} and {@link SampleReader.degraded}.
   * Results go to fields rather than a return value: a double returned from
   * a call TurboFan leaves out of line is boxed, one allocation per tick.
   */
  read(fab: unknown): void {
    this.degraded = false
    if (!isCore(fab)) {
      this.score = Number.NaN
      return
    }
    try {
      this.score = scoreOf(fab)
      this.degraded = degradationOf(fab)
    } catch {
      this.score = Number.NaN
      this.degraded = false
    }
  }
}
