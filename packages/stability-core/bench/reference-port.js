// @ts-check
/**
 * The in-run baseline: the reference tracker ported line by line, the way a
 * first port would look (wall clock in seconds, an unbounded event list
 * filtered on every read, `min(trunc(base ** n), max)` on every event).
 * Only the benchmark uses it.
 */
export class ReferencePortTracker {
  /** @param {{ minStableTicks?: number, decay?: number, cooldownBase?: number, cooldownMaxTicks?: number, degradationThreshold?: number }} [o] */
  constructor(o = {}) {
    this.minStableTicks = o.minStableTicks ?? 100
    this.decay = o.decay ?? 0.95
    this.cooldownBase = o.cooldownBase ?? 2.0
    this.cooldownMaxTicks = o.cooldownMaxTicks ?? 10000
    this.degradationThreshold = o.degradationThreshold ?? 0.1
    this.stableTicks = 0
    this.degradationCount = 0
    this.cooldownRemaining = 0
    this.ema = 1.0
    /** @type {number | null} */
    this.lastScore = null
    /** @type {number[]} */
    this.degradationEvents = []
  }

  /** @param {number} score @param {boolean} [degraded] */
  tick(score, degraded = false) {
    let isDegradation = degraded
    if (this.lastScore !== null && this.lastScore - score >= this.degradationThreshold) {
      isDegradation = true
    }
    this.lastScore = score
    if (this.cooldownRemaining > 0) {
      this.cooldownRemaining -= 1
    }
    if (isDegradation) {
      this.stableTicks = 0
      this.degradationCount += 1
      const cooldown = Math.trunc(this.cooldownBase ** this.degradationCount)
      this.cooldownRemaining = Math.min(cooldown, this.cooldownMaxTicks)
      this.degradationEvents.push(Date.now() / 1000)
    } else if (this.cooldownRemaining === 0) {
      this.stableTicks += 1
    }
    const inCooldown = this.cooldownRemaining > 0
    const instant = inCooldown ? 0.0 : Math.min(1.0, this.stableTicks / this.minStableTicks)
    this.ema = this.decay * this.ema + (1 - this.decay) * instant
  }

  getMetrics() {
    const now = Date.now() / 1000
    const recent = this.degradationEvents.filter((t) => now - t <= 3600)
    const ema = this.ema
    return {
      stabilityScore: this.cooldownRemaining > 0 ? 0.0 : Math.min(1.0, this.stableTicks / this.minStableTicks),
      stabilityScoreEma: ema,
      degradationEventsPerHour: recent.length,
      isInCooldown: this.cooldownRemaining > 0,
      cooldownRemaining: this.cooldownRemaining,
      degradationCount: this.degradationCount,
      stableTicks: this.stableTicks,
      recommendedMode: ema >= 0.8 ? 'FAB2' : ema >= 0.5 ? 'FAB1' : 'FAB0',
    }
  }
}
