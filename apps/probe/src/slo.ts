import type { TransitionEvent, TransitionKind } from '@auris/stability-core'

/**
 * The stability SLO of a run: exact quantiles of the per-tick stability
 * scores, per window and over all windows' ticks pooled, judged against
 * objectives such as `p50>=0.8` (`--slo`), and the run's transitions.
 *
 * Quantiles are nearest-rank: the p-th percentile of n scores is the
 * smallest score s such that at least p % of the n scores are <= s (the
 * ceil(p * n / 100)-th smallest, the smallest for p = 0). It is always a score the run
 * produced, and `p50 >= 0.8` then means exactly "fewer than half of the
 * ticks scored below 0.8".
 */

/** The quantiles the SLO knows, as percentages. */
export const SLO_QUANTILES = Object.freeze({ p50: 50, p95: 95, p99: 99 })

/** A quantile name: `p50`, `p95` or `p99`. */
export type SloQuantile = keyof typeof SLO_QUANTILES

/** How a quantile is compared with its threshold. */
export type SloOperator = '>=' | '>' | '<=' | '<'

/** One objective, such as `p50>=0.8`. */
export interface SloObjective {
  /** The objective as written, normalised (`p50>=0.8`). */
  readonly objective: string
  readonly quantile: SloQuantile
  readonly operator: SloOperator
  /** In [0, 1], as scores are. */
  readonly threshold: number
}

/** Whether `value` meets `objective`. */
export function meets(objective: SloObjective, value: number): boolean {
  switch (objective.operator) {
    case '>=':
      return value >= objective.threshold
    case '>':
      return value > objective.threshold
    case '<=':
      return value <= objective.threshold
    case '<':
      return value < objective.threshold
  }
}

/**
 * Counts of each distinct score per window. The tracker's score takes few
 * distinct values (0 in a cool-down, else stable ticks / minStableTicks,
 * capped at 1: at most minStableTicks + 1 of them), so exact quantiles of
 * millions of ticks over 100,000 windows need one small count array per
 * window, not every score.
 */
export class ScoreTally {
  /** Slot of each distinct score seen. */
  private readonly slotOf = new Map<number, number>()
  /** Distinct scores, by slot. */
  private readonly values: number[] = []
  /** Counts by slot, per window; `all` pools every window. */
  private readonly perWindow: number[][] = []
  private readonly all: number[] = []
  private readonly totals: number[] = []
  private total = 0
  /** Slots in increasing score order; rebuilt when a new score appears. */
  private order: number[] | null = []

  /** Counts one tick of `window` (0-based) that scored `score`. */
  record(window: number, score: number): void {
    let slot = this.slotOf.get(score)
    if (slot === undefined) {
      slot = this.values.length
      this.slotOf.set(score, slot)
      this.values.push(score)
      this.order = null
    }
    const counts = (this.perWindow[window] ??= [])
    counts[slot] = (counts[slot] ?? 0) + 1
    this.all[slot] = (this.all[slot] ?? 0) + 1
    this.totals[window] = (this.totals[window] ?? 0) + 1
    this.total++
  }

  /** Windows that recorded at least one tick, or were below one that did (0-based, dense). */
  get windows(): number {
    return this.perWindow.length
  }

  /** Ticks recorded for `window`, or for all windows when it is omitted. */
  count(window?: number): number {
    return window === undefined ? this.total : (this.totals[window] ?? 0)
  }

  /** The nearest-rank `percent`-th percentile (an integer in [0, 100]) of `window`'s scores, or of all; NaN without ticks. */
  quantile(percent: number, window?: number): number {
    const counts = window === undefined ? this.all : (this.perWindow[window] ?? [])
    const n = this.count(window)
    if (n === 0) return Number.NaN
    // Integer arithmetic: p * n / 100 in floating point lands just above an integer for some n (0.07 * 100).
    const rank = Math.max(1, Math.ceil((percent * n) / 100))
    const order = this.sorted()
    let i = 0
    let seen = counts[order[0] as number] ?? 0
    while (seen < rank) seen += counts[order[++i] as number] ?? 0
    return this.values[order[i] as number] as number
  }

  private sorted(): number[] {
    this.order ??= this.values.map((_, slot) => slot).sort((a, b) => (this.values[a] as number) - (this.values[b] as number))
    return this.order
  }
}

/** The three quantiles of a set of ticks. */
export interface SloFigures {
  ticks: number
  p50: number
  p95: number
  p99: number
}

/** One objective's verdict over a run. */
export interface SloVerdict extends SloObjective {
  /** Every window met it. */
  met: boolean
  /** Windows that did not. */
  breachedWindows: number
  /** The window furthest on the wrong side (lowest quantile for `>=`, `>`; highest for `<=`, `<`); the first such window on a tie. */
  worst: { windowId: string; value: number }
  /** The quantile over all windows' ticks pooled, for reference (not judged). */
  all: number
}

/** The SLO part of `--json`. */
export interface SloReport {
  /** How the figures are computed. */
  method: string
  all: SloFigures
  windows: Record<string, SloFigures>
  objectives: SloVerdict[]
  /** No objective breached (true without objectives). */
  ok: boolean
}

export const SLO_METHOD = 'nearest-rank quantiles of the stability score of every tick; each window must meet each objective'

function figures(tally: ScoreTally, window?: number): SloFigures {
  return { ticks: tally.count(window), p50: tally.quantile(50, window), p95: tally.quantile(95, window), p99: tally.quantile(99, window) }
}

/** The run's figures, per window (named by `windowId`) and pooled, and the verdict of each objective. */
export function sloReport(tally: ScoreTally, objectives: readonly SloObjective[], windowId: (i: number) => string): SloReport {
  const windows: Record<string, SloFigures> = {}
  for (let i = 0; i < tally.windows; i++) windows[windowId(i)] = figures(tally, i)
  const verdicts = objectives.map((o): SloVerdict => {
    const lowIsBad = o.operator === '>=' || o.operator === '>'
    let worst = { windowId: windowId(0), value: Number.NaN }
    let breachedWindows = 0
    for (let i = 0; i < tally.windows; i++) {
      const value = tally.quantile(SLO_QUANTILES[o.quantile], i)
      if (!meets(o, value)) breachedWindows++
      if (Number.isNaN(worst.value) || (lowIsBad ? value < worst.value : value > worst.value)) worst = { windowId: windowId(i), value }
    }
    return { ...o, met: breachedWindows === 0, breachedWindows, worst, all: tally.quantile(SLO_QUANTILES[o.quantile]) }
  })
  return { method: SLO_METHOD, all: figures(tally), windows, objectives: verdicts, ok: verdicts.every((v) => v.met) }
}

const f3 = (x: number): string => x.toFixed(3)

/** One line per objective: `✓ p50>=0.8: met in all 3 windows (worst p50 0.867 in window "window-2"; 0.900 over all windows' ticks)`. */
export function formatSlo(report: SloReport): string[] {
  const windows = Object.keys(report.windows).length
  return report.objectives.map((v) => {
    const where = v.met ? `met in ${windows === 1 ? 'window' : `all ${String(windows)} windows`}` : `BREACHED in ${String(v.breachedWindows)} of ${String(windows)} window(s)`
    const pooled = windows === 1 ? '' : `; ${f3(v.all)} over all windows' ticks`
    return `  ${v.met ? '✓' : '✗'} ${v.objective}: ${where} (${windows === 1 ? '' : 'worst '}${v.quantile} ${f3(v.worst.value)} in window "${v.worst.windowId}"${pooled})`
  })
}

/** The line that says why the run fails, or null when every objective held. */
export function sloBreachLine(report: SloReport): string | null {
  const breached = report.objectives.filter((v) => !v.met)
  if (breached.length === 0) return null
  return `SLO BREACHED: ${breached.map((v) => `${v.objective} (${v.quantile} ${f3(v.worst.value)} in window "${v.worst.windowId}")`).join('; ')}`
}

/** Most transitions `--json` lists; the counts cover all of them. */
export const MAX_TRANSITIONS = 10_000

/** The transitions part of `--json`. */
export interface TransitionsReport {
  total: number
  byKind: Record<TransitionKind, number>
  /** The first {@link MAX_TRANSITIONS}, in order. */
  events: TransitionEvent[]
  /** More happened than `events` lists. */
  truncated: boolean
}

/** Collects a run's transitions: counts of all, the first {@link MAX_TRANSITIONS} kept. */
export class TransitionLog {
  readonly report: TransitionsReport = { total: 0, byKind: { recommended: 0, effective: 0, held: 0 }, events: [], truncated: false }

  add(event: TransitionEvent): void {
    const r = this.report
    r.total++
    r.byKind[event.kind]++
    if (r.events.length < MAX_TRANSITIONS) r.events.push(event)
    else r.truncated = true
  }
}
