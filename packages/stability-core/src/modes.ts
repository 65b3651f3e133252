/** A FAB precision mode: `FAB2` full, `FAB1` reduced, `FAB0` safe. */
export type FabMode = 'FAB0' | 'FAB1' | 'FAB2'

/** Numeric value of each mode, as exported to Prometheus (higher is more precise). */
export const MODE_TO_NUMERIC: Readonly<Record<FabMode, 0 | 1 | 2>> = Object.freeze({
  FAB0: 0,
  FAB1: 1,
  FAB2: 2,
})

/** The reverse of {@link MODE_TO_NUMERIC}: index 0, 1, 2 gives the mode. */
export const NUMERIC_TO_MODE: readonly [FabMode, FabMode, FabMode] = Object.freeze(['FAB0', 'FAB1', 'FAB2'] as const)

/** All modes, from the safest to the most precise. */
export const FAB_MODES: readonly FabMode[] = NUMERIC_TO_MODE

/**
 * Type guard for {@link FabMode}.
 *
 * @example
 * ```ts
 * isFabMode('FAB1') // true
 * isFabMode('FAB9') // false
 * ```
 */
export function isFabMode(value: unknown): value is FabMode {
  return value === 'FAB0' || value === 'FAB1' || value === 'FAB2'
}

/** EMA at or above which the tracker recommends `FAB2`. */
export const FAB2_MIN_EMA = 0.8
/** EMA at or above which the tracker recommends `FAB1` (below it: `FAB0`). */
export const FAB1_MIN_EMA = 0.5

/**
 * The mode recommended for a stability EMA: `FAB2` at 0.8 and above,
 * `FAB1` at 0.5 and above, `FAB0` below. A pure function of the EMA.
 *
 * @example
 * ```ts
 * modeForEma(0.79) // 'FAB1'
 * ```
 */
export function modeForEma(ema: number): FabMode {
  if (ema >= FAB2_MIN_EMA) return 'FAB2'
  if (ema >= FAB1_MIN_EMA) return 'FAB1'
  return 'FAB0'
}
