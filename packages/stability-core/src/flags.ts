/** The feature flags this project reads. */
export const FEATURE_FLAGS = Object.freeze({
  /** Prometheus metrics and the `/metrics/exp` route. */
  metrics: 'AURIS_METRICS_EXP',
  /** The stability tracker hook in the FAB loop. */
  stabilityHook: 'AURIS_STABILITY_HOOK',
  /** The anti-chatter (hysteresis) hook. */
  hysteresis: 'AURIS_HYSTERESIS',
} as const)

/** One of {@link FEATURE_FLAGS}' values. */
export type FeatureFlag = (typeof FEATURE_FLAGS)[keyof typeof FEATURE_FLAGS]

/** An environment record: `process.env` on Node, Worker bindings, Hono's `env(c)`, or a plain object. */
export type EnvRecord = Readonly<Record<string, unknown>>

const ON_VALUES = new Set(['on', 'true', '1'])

/**
 * Whether a flag value means "enabled": `on`, `true` or `1`, in any case,
 * surrounding whitespace ignored. Anything else, or `undefined`, is off.
 *
 * @example
 * ```ts
 * isFlagOn('ON')    // true
 * isFlagOn('yes')   // false
 * isFlagOn(undefined) // false
 * ```
 */
export function isFlagOn(value: string | undefined): boolean {
  return typeof value === 'string' && ON_VALUES.has(value.trim().toLowerCase())
}

/**
 * The process environment where the runtime has one (Node, Bun, Deno with
 * Node compatibility), else `undefined` (Workers, browsers). Read on every
 * call, never cached, so a flag changed at run time takes effect.
 */
export function defaultEnv(): EnvRecord | undefined {
  // Reached through globalThis so the module loads where `process` does not exist.
  const proc = (globalThis as { process?: { env?: EnvRecord } }).process
  return proc?.env
}

/**
 * The raw value of a flag in `env` (or in the process environment when
 * `env` is omitted). Non-string values, as some binding systems produce,
 * count as unset.
 */
export function readFlag(name: string, env: EnvRecord | undefined = defaultEnv()): string | undefined {
  const value = env?.[name]
  return typeof value === 'string' ? value : undefined
}

/**
 * Whether flag `name` is on in `env` (or in the process environment when
 * `env` is omitted). Read when called, never at import time.
 *
 * @example
 * ```ts
 * flagEnabled(FEATURE_FLAGS.metrics, { AURIS_METRICS_EXP: 'on' }) // true
 * ```
 */
export function flagEnabled(name: string, env?: EnvRecord): boolean {
  return isFlagOn(readFlag(name, env))
}
