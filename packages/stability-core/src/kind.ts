import type { Hysteresis } from './hysteresis.js'
import type { StabilityTracker } from './tracker.js'
import type { StabilityWindows } from './windows.js'

/**
 * The key of the brand every {@link StabilityTracker}, {@link Hysteresis}
 * and {@link StabilityWindows} carries on its prototype (non-enumerable):
 * `'tracker'`, `'hysteresis'` or `'windows'`. A registered symbol
 * (`Symbol.for`), so two installed copies of this package (a version skew)
 * recognise each other's objects where `instanceof` would not.
 *
 * @example
 * ```ts
 * new StabilityTracker()[STABILITY_KIND] // 'tracker'
 * ```
 */
export const STABILITY_KIND: unique symbol = Symbol.for('@auris/stability-core.kind')

/** The values of the {@link STABILITY_KIND} brand. */
export type StabilityKind = 'tracker' | 'hysteresis' | 'windows'

/** The brand of `value`, or `undefined`; never throws (a throwing getter or a revoked Proxy has no brand). */
function kindOf(value: unknown): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined
  try {
    return (value as { [STABILITY_KIND]?: unknown })[STABILITY_KIND]
  } catch {
    return undefined
  }
}

/**
 * Whether `value` is a {@link StabilityTracker} from any copy of this
 * package. Checks the {@link STABILITY_KIND} brand, never `instanceof`;
 * never throws.
 *
 * @example
 * ```ts
 * isStabilityTracker(new StabilityTracker()) // true
 * isStabilityTracker({})                     // false
 * ```
 */
export function isStabilityTracker(value: unknown): value is StabilityTracker {
  return kindOf(value) === 'tracker'
}

/**
 * Whether `value` is a {@link Hysteresis} filter from any copy of this
 * package (brand check, never `instanceof`; never throws).
 *
 * @example
 * ```ts
 * isHysteresis(new Hysteresis()) // true
 * ```
 */
export function isHysteresis(value: unknown): value is Hysteresis {
  return kindOf(value) === 'hysteresis'
}

/**
 * Whether `value` is a {@link StabilityWindows} registry from any copy of
 * this package (brand check, never `instanceof`; never throws).
 *
 * @example
 * ```ts
 * isStabilityWindows(new StabilityWindows()) // true
 * ```
 */
export function isStabilityWindows(value: unknown): value is StabilityWindows {
  return kindOf(value) === 'windows'
}

/** Puts the brand on a class's prototype. @internal */
export function brand(prototype: object, kind: StabilityKind): void {
  Object.defineProperty(prototype, STABILITY_KIND, { value: kind, enumerable: false, writable: false, configurable: false })
}
