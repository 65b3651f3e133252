import { isFabMode, type FabMode, type StabilityWindow } from '@auris/stability-core'

/** What a window (and the whole answer) says: `ready` and `degraded` answer 200, `unready` 503. */
export type ReadinessStatus = 'ready' | 'degraded' | 'unready'

/** Options of the readiness route (`metricsRoutes({ readiness })`) and of {@link evaluateReadiness}. */
export interface ReadinessOptions {
  /** The windows to judge: a `StabilityWindows` registry, or an array of windows (any iterable that can be read again; not a one-shot iterator). Read on every request. */
  windows: Iterable<StabilityWindow>
  /**
   * The FAB loop's tick period in ms: cool-downs are counted in ticks, and
   * `Retry-After` is in seconds.
   */
  tickMs: number
  /** Status of a window in each mode. Default `{ FAB2: 'ready', FAB1: 'degraded', FAB0: 'unready' }`; entries left out keep their default. */
  statusByMode?: Partial<Readonly<Record<FabMode, ReadinessStatus>>>
  /**
   * Which mode of a window is judged: `effective` (the anti-chatter
   * filter's, which does not flap; the tracker's recommendation for windows
   * without a filter) or `recommended` (the tracker's). Default `effective`.
   */
  mode?: 'effective' | 'recommended'
  /** Status of a window while its cool-down runs, when that is worse than its mode's. Default: the mode alone decides. */
  cooldownStatus?: ReadinessStatus
  /** Which windows count: a list of ids, or a predicate on the id. Default: every window. */
  windowIds?: readonly string[] | ((id: string) => boolean)
  /** Status of a listed id that has no window (yet). Default `unready`: the loop has not reported it. */
  missingStatus?: ReadinessStatus
  /**
   * How the counted windows combine: `worst-of` (the worst window decides:
   * one FAB0 window refuses) or `any-of` (the best window decides: ready
   * while any window is). Default `worst-of`. No counted window at all
   * (an empty registry, no list) is `ready`.
   */
  combine?: 'worst-of' | 'any-of'
}

/** One window in the readiness answer. */
export interface WindowReadiness {
  /** The window's id. */
  readonly window_id: string
  /** The status of this window alone, before `combine`. */
  readonly status: ReadinessStatus
  /** The mode judged; `null` for a listed id with no window. */
  readonly mode: FabMode | null
  /** The tracker's recommended mode; `null` for a listed id with no window. */
  readonly recommended_mode: FabMode | null
  /** The filter's effective mode; `null` without a filter or a window. */
  readonly effective_mode: FabMode | null
  /** The tracker's score EMA; `null` for a listed id with no window. */
  readonly stability_score_ema: number | null
  /** Whether a cool-down is running. */
  readonly in_cooldown: boolean
  /** Cool-down ticks left; 0 outside a cool-down. */
  readonly cooldown_remaining_ticks: number
  /** The tracker's stable ticks; `null` for a listed id with no window. */
  readonly stable_ticks: number | null
}

/** The readiness answer: the JSON body, the HTTP status and, when refusing, `Retry-After` in seconds. */
export interface ReadinessReport {
  /** The combined status: the JSON `status`. */
  readonly status: ReadinessStatus
  /** 503 when the status is `unready`, else 200. */
  readonly httpStatus: 200 | 503
  /** Seconds until the longest cool-down among the refusing windows ends (at least 1); `null` when not refusing. */
  readonly retryAfterSeconds: number | null
  /** One entry per window counted, in registry order; with `windowIds` as a list, one per listed id, in its order. */
  readonly windows: readonly WindowReadiness[]
}

const RANK: Readonly<Record<ReadinessStatus, number>> = { unready: 0, degraded: 1, ready: 2 }
const STATUSES = Object.keys(RANK) as ReadinessStatus[]
const DEFAULT_BY_MODE: Readonly<Record<FabMode, ReadinessStatus>> = { FAB2: 'ready', FAB1: 'degraded', FAB0: 'unready' }

/** Readiness options checked and with defaults filled in. */
export interface ResolvedReadiness {
  readonly windows: Iterable<StabilityWindow>
  readonly tickMs: number
  readonly statusByMode: Readonly<Record<FabMode, ReadinessStatus>>
  readonly mode: 'effective' | 'recommended'
  readonly cooldownStatus: ReadinessStatus | null
  readonly listed: readonly string[] | null
  readonly counts: (id: string) => boolean
  readonly missingStatus: ReadinessStatus
  readonly combine: 'worst-of' | 'any-of'
}

function isStatus(value: unknown): value is ReadinessStatus {
  return typeof value === 'string' && value in RANK
}

/** A configured value, quoted for an error message. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value)
  return `a value of type ${typeof value}`
}

function statusProblem(field: string, value: unknown): RangeError {
  return new RangeError(`metricsRoutes: option "readiness.${field}" must be one of ${STATUSES.map((s) => `"${s}"`).join(', ')}; got ${show(value)}`)
}

/**
 * Checks readiness options and fills in the defaults; throws a `RangeError`
 * naming the field, the value and what it allows.
 */
export function resolveReadiness(options: unknown): ResolvedReadiness {
  if (typeof options !== 'object' || options === null) throw new RangeError('metricsRoutes: option "readiness" must be an object with "windows" and "tickMs"')
  const o = options as Partial<Record<keyof ReadinessOptions, unknown>>
  const windows = o.windows
  if (typeof windows !== 'object' || windows === null || typeof (windows as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new RangeError('metricsRoutes: option "readiness.windows" is required: a StabilityWindows registry or an iterable of windows')
  }
  // An iterator (a generator, `registry[Symbol.iterator]()`) yields its windows once: every request after the
  // first would see none and answer `ready` whatever the windows' state.
  if (typeof (windows as { next?: unknown }).next === 'function') {
    throw new RangeError('metricsRoutes: option "readiness.windows" is an iterator, which can be read only once; pass the StabilityWindows registry itself or an array of windows')
  }
  const tickMs = o.tickMs
  if (typeof tickMs !== 'number' || !(tickMs > 0) || tickMs > 3_600_000) {
    throw new RangeError(`metricsRoutes: option "readiness.tickMs" must be a number in (0, 3600000] (the tick period in ms); got ${show(tickMs)}`)
  }
  const byMode = { ...DEFAULT_BY_MODE }
  if (o.statusByMode !== undefined) {
    if (typeof o.statusByMode !== 'object' || o.statusByMode === null) throw new RangeError('metricsRoutes: option "readiness.statusByMode" must be an object keyed by FAB0, FAB1, FAB2')
    for (const [mode, status] of Object.entries(o.statusByMode)) {
      if (!isFabMode(mode)) throw new RangeError(`metricsRoutes: option "readiness.statusByMode" has key ${JSON.stringify(mode)}; allowed: "FAB0", "FAB1", "FAB2"`)
      if (status === undefined) continue
      if (!isStatus(status)) throw statusProblem(`statusByMode.${mode}`, status)
      byMode[mode] = status
    }
  }
  const mode = o.mode ?? 'effective'
  if (mode !== 'effective' && mode !== 'recommended') throw new RangeError(`metricsRoutes: option "readiness.mode" must be "effective" or "recommended"; got ${show(mode)}`)
  const cooldownStatus = o.cooldownStatus ?? null
  if (cooldownStatus !== null && !isStatus(cooldownStatus)) throw statusProblem('cooldownStatus', cooldownStatus)
  const missingStatus = o.missingStatus ?? 'unready'
  if (!isStatus(missingStatus)) throw statusProblem('missingStatus', missingStatus)
  const combine = o.combine ?? 'worst-of'
  if (combine !== 'worst-of' && combine !== 'any-of') throw new RangeError(`metricsRoutes: option "readiness.combine" must be "worst-of" or "any-of"; got ${show(combine)}`)
  let listed: readonly string[] | null = null
  let counts: (id: string) => boolean = () => true
  const ids = o.windowIds
  if (typeof ids === 'function') {
    counts = (id) => (ids as (id: string) => unknown)(id) === true
  } else if (Array.isArray(ids)) {
    if (ids.length === 0 || !ids.every((id) => typeof id === 'string' && id !== '')) {
      throw new RangeError('metricsRoutes: option "readiness.windowIds" must be a non-empty array of window ids, or a predicate')
    }
    const set = new Set(ids as string[])
    listed = [...set]
    counts = (id) => set.has(id)
  } else if (ids !== undefined) {
    throw new RangeError('metricsRoutes: option "readiness.windowIds" must be an array of window ids or a predicate')
  }
  return { windows: windows as Iterable<StabilityWindow>, tickMs, statusByMode: byMode, mode, cooldownStatus, listed, counts, missingStatus, combine }
}

function worse(a: ReadinessStatus, b: ReadinessStatus): ReadinessStatus {
  return RANK[a] <= RANK[b] ? a : b
}

function judge(window: StabilityWindow, r: ResolvedReadiness): WindowReadiness {
  const m = window.tracker.getMetrics()
  const effective = window.hysteresis?.effectiveMode ?? null
  const mode = r.mode === 'effective' ? (effective ?? m.recommendedMode) : m.recommendedMode
  let status = r.statusByMode[mode]
  if (m.isInCooldown && r.cooldownStatus !== null) status = worse(status, r.cooldownStatus)
  return {
    window_id: window.id,
    status,
    mode,
    recommended_mode: m.recommendedMode,
    effective_mode: effective,
    stability_score_ema: m.stabilityScoreEma,
    in_cooldown: m.isInCooldown,
    cooldown_remaining_ticks: m.cooldownRemaining,
    stable_ticks: m.stableTicks,
  }
}

function missing(id: string, status: ReadinessStatus): WindowReadiness {
  return {
    window_id: id,
    status,
    mode: null,
    recommended_mode: null,
    effective_mode: null,
    stability_score_ema: null,
    in_cooldown: false,
    cooldown_remaining_ticks: 0,
    stable_ticks: null,
  }
}

/**
 * Judges the windows as the readiness route does: each counted window gets
 * the status of its mode (worsened by `cooldownStatus` during a cool-down),
 * and `combine` folds them into one answer. A refusal (`unready`, HTTP 503)
 * carries `Retry-After`: the cool-down left on the refusing windows, in
 * seconds of `tickMs` ticks, at least 1.
 *
 * @example
 * ```ts
 * const report = evaluateReadiness({ windows, tickMs: 100, statusByMode: { FAB1: 'unready' } })
 * report.httpStatus // 503 while a window is in FAB1 or FAB0
 * ```
 */
export function evaluateReadiness(options: ReadinessOptions): ReadinessReport {
  return judgeReadiness(resolveReadiness(options))
}

/** {@link evaluateReadiness} on options already resolved (the route resolves them once, at setup). */
export function judgeReadiness(r: ResolvedReadiness): ReadinessReport {
  const found = new Map<string, WindowReadiness>()
  const detail: WindowReadiness[] = []
  for (const window of r.windows) {
    if (!r.counts(window.id)) continue
    const judged = judge(window, r)
    found.set(window.id, judged)
    if (r.listed === null) detail.push(judged)
  }
  if (r.listed !== null) for (const id of r.listed) detail.push(found.get(id) ?? missing(id, r.missingStatus))
  let status: ReadinessStatus = 'ready'
  if (detail.length > 0) {
    status = detail.reduce<ReadinessStatus>((acc, w) => (r.combine === 'worst-of' ? worse(acc, w.status) : RANK[w.status] > RANK[acc] ? w.status : acc), r.combine === 'worst-of' ? 'ready' : 'unready')
  }
  if (status !== 'unready') return { status, httpStatus: 200, retryAfterSeconds: null, windows: detail }
  // worst-of: every refusing window must recover, so the longest cool-down; any-of: the first to recover will do.
  // A loop, not Math.max(...waits): spreading some 130 000 arguments overflows the stack, and a
  // registry may hold up to a million windows.
  let ticks = r.combine === 'worst-of' ? 0 : Infinity
  for (const w of detail) {
    if (w.status !== 'unready') continue
    ticks = r.combine === 'worst-of' ? Math.max(ticks, w.cooldown_remaining_ticks) : Math.min(ticks, w.cooldown_remaining_ticks)
  }
  return { status, httpStatus: 503, retryAfterSeconds: Math.max(1, Math.ceil((ticks * r.tickMs) / 1000)), windows: detail }
}
