/**
 * Option validation shared by the constructors. Every failure is a
 * `RangeError` whose message names the owner, the field, the value received
 * and the allowed range, so a bad deployment config fails at start-up with a
 * message that says what to change.
 */

/** Bounds of a numeric option. */
export interface NumberRange {
  readonly min: number
  readonly max: number
  /** The lower bound itself is not allowed. */
  readonly minExclusive?: boolean
  /** The upper bound itself is not allowed. */
  readonly maxExclusive?: boolean
  /** Only integers are allowed. */
  readonly integer?: boolean
}

/** A short, safe rendering of any value for an error message. */
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

/** `[0, 1)`, `integer in [1, 1000000]` and so on. */
export function describeRange(range: NumberRange): string {
  const lo = range.minExclusive === true ? '(' : '['
  const hi = range.maxExclusive === true ? ')' : ']'
  const max = range.max === Infinity ? 'Infinity' : String(range.max)
  const interval = `${lo}${String(range.min)}, ${max}${hi}`
  return range.integer === true ? `an integer in ${interval}` : `a number in ${interval}`
}

/** Whether `value` lies in `range` (type included). */
export function inRange(value: unknown, range: NumberRange): value is number {
  if (typeof value !== 'number' || Number.isNaN(value)) return false
  if (range.integer === true && !Number.isInteger(value)) return false
  if (range.minExclusive === true ? value <= range.min : value < range.min) return false
  if (range.maxExclusive === true ? value >= range.max : value > range.max) return false
  return true
}

/** Throws the standard error for an option outside its allowed set. */
export function rangeError(owner: string, field: string, value: unknown, allowed: string): RangeError {
  return new RangeError(`${owner}: option "${field}" must be ${allowed}; got ${describeValue(value)}`)
}

/**
 * Returns `value` when it lies in `range`, `fallback` when it is
 * `undefined`, and throws a `RangeError` otherwise.
 */
export function numberOption(owner: string, field: string, value: unknown, fallback: number, range: NumberRange): number {
  if (value === undefined) return fallback
  if (!inRange(value, range)) throw rangeError(owner, field, value, describeRange(range))
  return value
}

/** A boolean option, `fallback` when undefined. */
export function booleanOption(owner: string, field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw rangeError(owner, field, value, 'a boolean')
  return value
}

/** A function option, `fallback` when undefined. */
export function functionOption<F>(owner: string, field: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw rangeError(owner, field, value, 'a function')
  return value as F
}

/**
 * Checks that `options` is an object (or undefined) holding only `known`
 * keys. Unknown keys are rejected rather than ignored: a misspelt option
 * (`decay` for `emaDecay`) would otherwise be silently dropped.
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

/** The options `fromJSON` accepts beside a snapshot: the ones a snapshot cannot carry. */
export interface RuntimeOptions {
  clock?: () => number
  strict?: boolean
}

/** Keeps only the defined runtime options, so spreading them never overrides a value with `undefined`. */
export function restoreOptions(options: RuntimeOptions | undefined): RuntimeOptions {
  const out: RuntimeOptions = {}
  if (options?.clock !== undefined) out.clock = options.clock
  if (options?.strict !== undefined) out.strict = options.strict
  return out
}
