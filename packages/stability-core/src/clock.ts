/** A clock in milliseconds. Only differences between readings matter. */
export type Clock = () => number

interface PerformanceLike {
  now(): number
}

/**
 * `performance.now()` of `host` when it has one, else `Date.now()`.
 *
 * @internal
 */
export function clockOf(host: { performance?: PerformanceLike }): Clock {
  const perf = host.performance
  return perf !== undefined ? () => perf.now() : () => Date.now()
}

/**
 * The default clock: `performance.now()` (monotonic, in ms) where the
 * runtime has it, which is every runtime this package targets; `Date.now()`
 * otherwise. Monotonic matters: a wall clock stepped back by NTP would make
 * events look younger than they are.
 */
export const monotonicClock: Clock = clockOf(globalThis as { performance?: PerformanceLike })
