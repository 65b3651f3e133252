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
export const monotonicClock: Clock = clockOf(
  // Needed where the lib has no `performance` (the build targets plain ES2023); lint sees Node's types.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  globalThis as { performance?: PerformanceLike },
)
