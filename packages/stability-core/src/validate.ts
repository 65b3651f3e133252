/**
 * Option validation shared by the constructors, and exported so the other
 * packages (HTTP routes, the probe) throw the same messages. Every failure is a
 * `RangeError` whose message names the owner, the field, the value received
 * and the allowed range, so a bad deployment config fails at start-up with a
 * message that says what to change.
 */

/** Bounds of a numeric option. */
export interface NumberRange {
  /** Lowest allowed value (included unless `minExclusive`). */
  readonly min: number
  /** Highest allowed value, included. */
  readonly max: number
  /** The lower bound itself is not allowed. */
  readonly minExclusive?: boolean
  /** The upper bound itself is not allowed. */
  readonly maxExclusive?: boolean
  /** Only integers are allowed. */
  readonly integer?: boolean
}

/**
 * A short, safe rendering of any value for an error message (strings cut at
 * 40 characters, objects named by kind, never their content).
 *
 * @example
 * ```ts
 * describeValue(-0)      // '-0'
 * describeValue('abc')   // '"abc" (string)'
 * describeValue({ a: 1 }) // 'an object'
 * ```
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${String(value)}n`
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
      return `${JSON.stringify(shown)} (string)`
    }
    case 'undefined':
      return 'undefined'
    case 'boolean':
      return String(value)
    case 'symbol':
      return 'a symbol'
    case 'function':
      return 'a function'
    default:
      if (value === null) return 'null'
      return Array.isArray(value) ? 'an array' : 'an object'
  }
}

/**
 * The allowed range in words, as the error messages say it.
 *
 * @example
 * ```ts
 * describeRange({ min: 0, max: 1, maxExclusive: true }) // 'a number in [0, 1)'
 * describeRange({ min: 1, max: 10, integer: true })      // 'an integer in [1, 10]'
 * ```
 */
export function describeRange(range: NumberRange): string {
  const lo = range.minExclusive === true ? '(' : '['
  const hi = range.maxExclusive === true ? ')' : ']'
  const max = range.max === Infinity ? 'Infinity' : String(range.max)
  const interval = `${lo}${String(range.min)}, ${max}${hi}`
  return range.integer === true ? `an integer in ${interval}` : `a number in ${interval}`
}

/**
 * Whether `value` is a number (not NaN) in `range`.
 *
 * @example
 * ```ts
 * inRange(0.5, { min: 0, max: 1 })                // true
 * inRange(1.5, { min: 0, max: 10, integer: true }) // false
 * ```
 */
export function inRange(value: unknown, range: NumberRange): value is number {
  if (typeof value !== 'number' || Number.isNaN(value)) return false
  if (range.integer === true && !Number.isInteger(value)) return false
  if (range.minExclusive === true ? value <= range.min : value < range.min) return false
  if (range.maxExclusive === true ? value >= range.max : value > range.max) return false
  return true
}

/**
 * The standard error for an option outside its allowed set:
 * `<owner>: option "<field>" must be <allowed>; got <value>`. Returned, so the
 * caller writes `throw rangeError(...)`.
 *
 * @example
 * ```ts
 * rangeError('metricsRoutes', 'timeoutMs', -1, 'a number in (0, 600000]').message
 * // 'metricsRoutes: option "timeoutMs" must be a number in (0, 600000]; got -1'
 * ```
 */
export function rangeError(owner: string, field: string, value: unknown, allowed: string): RangeError {
  return new RangeError(`${owner}: option "${field}" must be ${allowed}; got ${describeValue(value)}`)
}

/**
 * Returns `value` when it lies in `range`, `fallback` when it is
 * `undefined`, and throws a `RangeError` naming owner, field, value and
 * range otherwise.
 *
 * @example
 * ```ts
 * numberOption('metricsRoutes', 'maxAgeMs', undefined, 0, { min: 0, max: 3_600_000 }) // 0
 * numberOption('metricsRoutes', 'maxAgeMs', -5, 0, { min: 0, max: 3_600_000 })
 * // throws RangeError: metricsRoutes: option "maxAgeMs" must be a number in [0, 3600000]; got -5
 * ```
 */
export function numberOption(owner: string, field: string, value: unknown, fallback: number, range: NumberRange): number {
  if (value === undefined) return fallback
  if (!inRange(value, range)) throw rangeError(owner, field, value, describeRange(range))
  return value
}

/**
 * A boolean option, `fallback` when undefined; anything else throws a `RangeError`.
 *
 * @example
 * ```ts
 * booleanOption('StabilityTracker', 'strict', undefined, false) // false
 * ```
 */
export function booleanOption(owner: string, field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw rangeError(owner, field, value, 'a boolean')
  return value
}

/**
 * A function option, `fallback` when undefined; anything else throws a `RangeError`.
 *
 * @example
 * ```ts
 * const clock = functionOption('StabilityTracker', 'clock', undefined, () => 0)
 * ```
 */
export function functionOption<F>(owner: string, field: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw rangeError(owner, field, value, 'a function')
  return value as F
}

/**
 * Checks that `options` is an object (or undefined) holding only `known`
 * keys. Unknown keys are rejected rather than ignored: a misspelt option
 * (`decay` for `emaDecay`) would otherwise be silently dropped.
 *
 * @example
 * ```ts
 * checkOptionKeys('metricsRoutes', { timeoutMs: 5 }, ['timeoutMs', 'maxAgeMs']) // { timeoutMs: 5 }
 * checkOptionKeys('metricsRoutes', { timeout: 5 }, ['timeoutMs'])
 * // throws RangeError: metricsRoutes: unknown option "timeout"; known options: timeoutMs
 * ```
 */
export function checkOptionKeys(owner: string, options: unknown, known: readonly string[]): Readonly<Record<string, unknown>> {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new RangeError(`${owner}: options must be an object; got ${describeValue(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new RangeError(`${owner}: unknown option "${key}"; known options: ${known.join(', ')}`)
    }
  }
  return options as Readonly<Record<string, unknown>>
}

/** The options `fromJSON` accepts beside a snapshot: the ones a snapshot cannot carry. @internal */
export interface RuntimeOptions {
  clock?: () => number
  strict?: boolean
}

/** Keeps only the defined runtime options, so spreading them never overrides a value with `undefined`. @internal */
export function restoreOptions(options: RuntimeOptions | undefined): RuntimeOptions {
  const out: RuntimeOptions = {}
  if (options?.clock !== undefined) out.clock = options.clock
  if (options?.strict !== undefined) out.strict = options.strict
  return out
}
