import {
  checkOptionKeys,
  isFabMode,
  isHysteresis,
  isStabilityWindows,
  rangeError,
  type FabMode,
  type Hysteresis,
  type StabilityWindows,
  type TransitionEvent,
} from '@auris/stability-core'

/** One decision of a {@link Steering}: the effective mode to apply, and whether it was applied. */
export interface SteerDecision {
  /** The effective mode to apply to the core. */
  readonly mode: FabMode
  /** `false` in dry-run, when the applier threw, or when the core already was in `mode`. */
  readonly applied: boolean
  /** The transition that called for it; `null` for the first synchronisation. */
  readonly cause: TransitionEvent | null
}

/** Options of {@link steer}. */
export interface SteerOptions {
  /** Where the effective mode comes from: a filter, or a registry (then `windowId` names the window). */
  source: Hysteresis | StabilityWindows
  /** The registry window to follow. Default `global`. Only with a registry. */
  windowId?: string
  /** Applies a mode. Default: `core.mode = mode` (skipped when the core already is in it). */
  apply?: (mode: FabMode) => void
  /** Compute, export and emit everything, decide as usual, but apply nothing. Default false. */
  dryRun?: boolean
  /** Called after every decision, applied or not (in dry-run: what would have been applied). A throw is counted in `failures`. */
  onDecision?: (decision: SteerDecision) => void
}

/** What {@link steer} returns. */
export interface Steering {
  /** Whether decisions are only computed, never applied. */
  readonly dryRun: boolean
  /** The last decision, or `null` before the first. */
  readonly last: SteerDecision | null
  /** Decisions applied to the core. */
  readonly applied: number
  /** Calls of `apply` or `onDecision` that threw (isolated: the FAB loop and ticking go on). */
  readonly failures: number
  /** Stops following the source. Idempotent. */
  stop(): void
}

const OWNER = 'steer'

/**
 * Closes the loop: applies the source's effective mode to the core whenever
 * it changes (a filter switch, a pin starting or ending), and once at the
 * start. With `dryRun`, every decision is computed, passed to `onDecision`
 * and exposed in `last`, but nothing is applied: watch what steering would
 * do before letting it act. The source ticks as usual (through `maybeTick`,
 * `windows.tick`, ...); steering only subscribes to its transitions.
 *
 * @throws {RangeError} when an option is invalid.
 * @example
 * ```ts
 * const windows = new StabilityWindows({ hysteresis: { dwellTicks: 1, rateLimitTicks: 0 } })
 * const core = { mode: 'FAB2' }
 * const steering = steer(core, { source: windows, windowId: 'global' })
 * windows.tick('global', 0.9, true)
 * windows.pin('global', 'FAB0', { forMs: 60_000 })
 * core.mode // 'FAB0'
 * steering.stop()
 * ```
 */
export function steer(core: object, options: SteerOptions): Steering {
  const o = checkOptionKeys(OWNER, options, ['source', 'windowId', 'apply', 'dryRun', 'onDecision'])
  // Typed callers cannot pass null; JavaScript ones can.
  const given: unknown = core
  if (typeof given !== 'object' || given === null) throw rangeError(OWNER, 'core', given, 'an object')
  const source = o.source
  const windows = isStabilityWindows(source) ? source : null
  const filter = isHysteresis(source) ? source : null
  if (windows === null && filter === null) throw rangeError(OWNER, 'source', source, 'a Hysteresis or a StabilityWindows')
  if (windows !== null && windows.hysteresisConfig === false) throw rangeError(OWNER, 'source', 'a registry without filters', 'a registry with filters (its windows have no effective mode)')
  const windowId = o.windowId ?? 'global'
  if (typeof windowId !== 'string') throw rangeError(OWNER, 'windowId', windowId, 'a window id string')
  if (filter !== null && o.windowId !== undefined) throw rangeError(OWNER, 'windowId', windowId, 'absent: the source is a single filter')
  // The default applier: `core.mode = mode`, any object (a TS core, a state object from Python).
  const target = core as { mode?: unknown }
  const applier = o.apply ?? ((mode: FabMode) => {
    if (target.mode !== mode) target.mode = mode
  })
  if (typeof applier !== 'function') throw rangeError(OWNER, 'apply', applier, 'a function')
  const onDecision = o.onDecision
  if (onDecision !== undefined && typeof onDecision !== 'function') throw rangeError(OWNER, 'onDecision', onDecision, 'a function')
  const dryRun = o.dryRun ?? false
  if (typeof dryRun !== 'boolean') throw rangeError(OWNER, 'dryRun', dryRun, 'a boolean')

  let last: SteerDecision | null = null
  let applied = 0
  let failures = 0
  const decide = (mode: FabMode, cause: TransitionEvent | null): void => {
    let done = false
    // The default applier skips a core already in the mode; report that as not applied.
    const needed = o.apply !== undefined || target.mode !== mode
    if (!dryRun && needed) {
      try {
        ;(applier as (mode: FabMode) => void)(mode)
        done = true
        applied++
      } catch {
        failures++
      }
    }
    last = { mode, applied: done, cause }
    if (onDecision !== undefined) {
      try {
        ;(onDecision as (decision: SteerDecision) => void)(last)
      } catch {
        failures++
      }
    }
  }

  const current = (): FabMode | undefined => (filter ?? windows?.get(windowId)?.hysteresis)?.effectiveMode
  const listener = (event: TransitionEvent): void => {
    if (event.kind !== 'effective' || (windows !== null && event.windowId !== windowId)) return
    // After a pin's end the filter's own mode is in force; `to` says which.
    if (isFabMode(event.to)) decide(event.to, event)
  }
  const unsubscribe = (filter ?? (windows as StabilityWindows)).onTransition(listener)
  const start = current()
  if (start !== undefined) decide(start, null)
  let stopped = false
  return {
    dryRun,
    get last() {
      return last
    },
    get applied() {
      return applied
    },
    get failures() {
      return failures
    },
    stop() {
      if (stopped) return
      stopped = true
      unsubscribe()
    },
  }
}

