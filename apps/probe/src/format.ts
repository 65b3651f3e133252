import type { HysteresisMetrics, StabilityMetrics } from '@auris/stability-core'
import type { Check, HysteresisResult, ProbeRow } from './simulation.js'

const HEADER = ['TICK', 'MODE', 'SAMPLE', 'SCORE', 'EMA', 'STABLE', 'DEGRAD', 'RECOMMENDED'] as const
const WIDTHS = [5, 5, 6, 6, 6, 6, 6, 11] as const

function line(cells: readonly string[]): string {
  return cells.map((cell, i) => cell.padStart(WIDTHS[i] as number)).join(' | ')
}

/**
 * The probe table: `TICK | MODE | SAMPLE | SCORE | EMA | STABLE | DEGRAD | RECOMMENDED`.
 * SAMPLE is the core's quality sample fed to the tracker; SCORE the tracker's
 * instantaneous stability score; EMA its moving average.
 */
export function formatTable(rows: readonly ProbeRow[]): string {
  const out = [line(HEADER), WIDTHS.map((w) => '-'.repeat(w)).join('-+-')]
  for (const row of rows) {
    out.push(
      line([
        String(row.tick),
        row.mode,
        row.sample.toFixed(3),
        row.metrics.stabilityScore.toFixed(3),
        row.metrics.stabilityScoreEma.toFixed(3),
        String(row.metrics.stableTicks),
        String(row.metrics.degradationCount),
        row.metrics.recommendedMode,
      ]),
    )
  }
  return out.join('\n')
}

/** Final metrics, one per line. */
export function formatMetrics(m: StabilityMetrics | HysteresisMetrics): string {
  return Object.entries(m)
    .map(([key, value]) => `  ${key.padEnd(26)} ${String(value)}`)
    .join('\n')
}

/** Checks as ✓/✗ lines. */
export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name} (${c.detail})`).join('\n')
}

/** The anti-chatter summary. */
export function formatHysteresis(r: HysteresisResult): string {
  return [
    `  desired switches     ${String(r.desiredSwitches)}`,
    `  effective switches   ${String(r.effectiveSwitches)}`,
    `  reduction            ${(r.reduction * 100).toFixed(0)} %`,
  ].join('\n')
}
