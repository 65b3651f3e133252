import type { FabMode } from './modes.js'

/**
 * What changed:
 * - `recommended`: the tracker's recommended mode (its EMA crossed 0.5 or 0.8);
 * - `effective`: the mode in force (a filter switch, a pin starting or ending);
 * - `held`: the filter held a change of the desired mode back (see {@link HoldReason}).
 */
export type TransitionKind = 'recommended' | 'effective' | 'held'

/**
 * Why a mode changed:
 * - `ema-threshold`: the EMA crossed a mode boundary outside a cool-down;
 * - `cooldown`: it crossed one during a cool-down (a degradation pulled it down);
 * - `desired`: a standalone filter switched to the desired mode it was given
 *   (no tracker behind it, so no EMA to blame);
 * - `forced`: a pin started (see `Hysteresis.pin`);
 * - `restored`: a pin ended (expired or lifted) and the filter's own mode is back in force.
 */
export type TransitionReason = 'ema-threshold' | 'cooldown' | 'desired' | 'forced' | 'restored'

/**
 * Why the filter held a change back:
 * - `dwell`: the desired mode has not differed for the dwell ticks of its direction yet;
 * - `rate-limit`: it has, but fewer than `rateLimitTicks` passed since the previous switch;
 * - `oscillation`: as `rate-limit`, and the switch would come within
 *   `oscWindow` ticks of the previous one (it would count as an oscillation);
 * - `pinned`: the filter switched its own mode, to one other than the pinned
 *   mode, while a pin holds the effective mode.
 */
export type HoldReason = 'dwell' | 'rate-limit' | 'oscillation' | 'pinned'

/** One change of mode, or one change the filter held back. Plain data, safe to keep. */
export interface TransitionEvent {
  /** What changed; see {@link TransitionKind}. */
  readonly kind: TransitionKind
  /** The window's id in a registry; `null` for a standalone tracker or filter. */
  readonly windowId: string | null
  /** For `held`: the effective mode that stays in force. */
  readonly from: FabMode
  /** For `held`: the mode the filter held back. */
  readonly to: FabMode
  /** Why it changed; see {@link TransitionReason}. */
  readonly reason: TransitionReason
  /** Set exactly when `kind` is `held`. */
  readonly held: HoldReason | null
  /** The tracker's EMA after the tick that caused the change; `null` where no tracker is involved (a standalone filter). */
  readonly ema: number | null
  /** The tracker's instantaneous score after that tick; `null` where no tracker is involved. */
  readonly score: number | null
  /**
   * The tick: the tracker's tick count (registry, tracker) or the tick given
   * to `update` (standalone filter); for a pin, the last tick seen (0 before any).
   */
  readonly tick: number
  /** An `effective` switch that came within `oscWindow` ticks of the previous one. */
  readonly oscillation: boolean
}

/** Receives transition events; see {@link TransitionEvent}. */
export type TransitionListener = (event: TransitionEvent) => void

/**
 * Listeners of one tracker, filter or registry. A listener that throws is
 * isolated: the others still run, the tick completes, and the failure is
 * counted in `errors`.
 *
 * @internal
 */
export class Emitter {
  /** Replaced, never mutated, so a listener that unsubscribes during dispatch does not skip the next one. */
  listeners: readonly TransitionListener[] = []
  errors = 0

  constructor(private readonly owner: string, private readonly changed: (active: boolean) => void) {}

  get active(): boolean {
    return this.listeners.length > 0
  }

  subscribe(listener: unknown): () => void {
    if (typeof listener !== 'function') throw new RangeError(`${this.owner}.onTransition: listener must be a function; got ${typeof listener}`)
    const fn = listener as TransitionListener
    const wasActive = this.active
    this.listeners = [...this.listeners, fn]
    if (!wasActive) this.changed(true)
    let subscribed = true
    return () => {
      if (!subscribed) return
      subscribed = false
      const i = this.listeners.indexOf(fn)
      this.listeners = [...this.listeners.slice(0, i), ...this.listeners.slice(i + 1)]
      if (!this.active) this.changed(false)
    }
  }

  emit(event: TransitionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        this.errors++
      }
    }
  }
}

/**
 * Builds an event object. One shape for every kind, so listeners see monomorphic objects.
 *
 * @internal
 */
export function transition(
  kind: TransitionKind,
  windowId: string | null,
  from: FabMode,
  to: FabMode,
  reason: TransitionReason,
  held: HoldReason | null,
  ema: number | null,
  score: number | null,
  tick: number,
  oscillation: boolean,
): TransitionEvent {
  return { kind, windowId, from, to, reason, held, ema, score, tick, oscillation }
}
