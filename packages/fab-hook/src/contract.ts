import { MODE_TO_NUMERIC, isFabMode } from '@auris/stability-core'

/**
 * What the hook reads from a FAB core. Every field is optional and read
 * defensively, so a TypeScript core and a state object received as JSON from
 * a Python core (snake_case names) both work unchanged.
 */
export interface FabCoreLike {
  /** State with metrics; `st.metrics.stress` in [0, 1] gives the score `1 - stress` (first choice). */
  readonly st?: { readonly metrics?: { readonly stress?: unknown } | null } | null
  /** Score in [0, 1] (second choice). */
  readonly coherenceScore?: unknown
  readonly coherence_score?: unknown
  /** Score in [0, 1] (third choice). */
  readonly qualityScore?: unknown
  readonly quality_score?: unknown
  /** Explicit degradation flag. */
  readonly degraded?: unknown
  /** Mode now; a drop in rank from the previous mode is a degradation. */
  readonly mode?: unknown
  readonly prevMode?: unknown
  readonly _prev_mode?: unknown
  /** Tick counter. */
  readonly currentTick?: unknown
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

/**
 * The core's quality score: `1 - st.metrics.stress`, else `coherenceScore`
 * (`coherence_score`), else `qualityScore` (`quality_score`), else 0.8.
 *
 * A source that is present but not a finite number (`"0.9"`, `NaN`, an
 * object) yields `NaN` rather than falling through to the next source: the
 * tracker then ignores the sample and counts it in `invalidSamples`, so a
 * broken core shows up in the metrics instead of being papered over with
 * another value. `null` and `undefined` count as absent.
 *
 * @example
 * ```ts
 * extractFabScore({ st: { metrics: { stress: 0.25 } } }) // 0.75
 * extractFabScore({ coherence_score: 0.7 })              // 0.7
 * extractFabScore({})                                    // 0.8
 * ```
 */
export function extractFabScore(fab: FabCoreLike): number {
  const stress = fab.st?.metrics?.stress
  if (present(stress)) return typeof stress === 'number' ? 1 - stress : Number.NaN
  const score = first(first(fab.coherenceScore, fab.coherence_score), first(fab.qualityScore, fab.quality_score))
  if (!present(score)) return DEFAULT_SCORE
  return typeof score === 'number' ? score : Number.NaN
}

/**
 * Whether the core degraded this tick: the `degraded` flag when it is
 * `true`, else a drop in mode rank from `prevMode` (`_prev_mode`) to `mode`
 * (`FAB2` → `FAB1`, say). Unknown modes (`"FAB9"`) never count as a drop.
 *
 * @example
 * ```ts
 * detectDegradation({ degraded: true })                      // true
 * detectDegradation({ _prev_mode: 'FAB2', mode: 'FAB1' })   // true
 * detectDegradation({ prevMode: 'FAB0', mode: 'FAB9' })     // false
 * ```
 */
export function detectDegradation(fab: FabCoreLike): boolean {
  if (fab.degraded === true) return true
  const mode = fab.mode
  const previous = first(fab.prevMode, fab._prev_mode)
  if (!isFabMode(mode) || !isFabMode(previous)) return false
  return MODE_TO_NUMERIC[mode] < MODE_TO_NUMERIC[previous]
}

/** The core's tick counter (`currentTick`, `current_tick`), or `undefined` when it has no valid one. */
export function readTick(fab: FabCoreLike): number | undefined {
  const tick = first(fab.currentTick, fab.current_tick)
  return typeof tick === 'number' && Number.isFinite(tick) ? tick : undefined
}
