import type { Hysteresis, StabilityTracker } from '@auris/stability-core'

/**
 * The part of an exporter the hook uses. `@auris/prom-exporter`'s
 * `StabilityExporter` is one; the hook never imports it, so the hook stays
 * free of prom-client and runs anywhere.
 */
export interface StabilityExporterLike {
  /** Receives the tracker of window `windowId` after each tick. */
  update(windowId: string, tracker: StabilityTracker): void
  /** Receives the filter of window `windowId` after each update, when the exporter exports filters. */
  updateHysteresis?(windowId: string, hysteresis: Hysteresis): void
}

/** Called once per exporter, on its first failure. */
export type ExporterErrorReporter = (error: unknown, exporter: StabilityExporterLike) => void

const failures = new WeakMap<StabilityExporterLike, number>()

/** Default report: one warning per exporter, so a broken exporter cannot flood the log of a loop running at kHz. */
export const warnOnce: ExporterErrorReporter = (error) => {
  const message = error instanceof Error ? error.message : String(error)
  // Through globalThis: the package builds against plain ES2023, which has no console.
  ;(globalThis as { console?: { warn(message: string): void } }).console?.warn(`[auris] exporter failed: ${message} (further failures of this exporter are counted, not logged)`)
}

/** How many times `exporter` threw when the hook pushed to it. */
export function exporterFailures(exporter: StabilityExporterLike): number {
  return failures.get(exporter) ?? 0
}

function failed(exporter: StabilityExporterLike, error: unknown, report: ExporterErrorReporter): void {
  let count = 1
  try {
    count = (failures.get(exporter) ?? 0) + 1
    failures.set(exporter, count)
  } catch {
    // An exporter that is not an object cannot be a WeakMap key; there is nothing to count it under.
  }
  if (count === 1) {
    try {
      report(error, exporter)
    } catch {
      // A reporter that throws is as broken as the exporter; the count above still records it.
    }
  }
}

/**
 * Pushes `tracker` to `exporter` under `windowId`; never throws. A failure
 * is counted and reported once per exporter: telemetry must not break the
 * FAB loop. No closure, so nothing is allocated per push.
 *
 * @internal
 */
export function pushTracker(exporter: StabilityExporterLike, windowId: string, tracker: StabilityTracker, report: ExporterErrorReporter = warnOnce): boolean {
  try {
    exporter.update(windowId, tracker)
    return true
  } catch (error) {
    failed(exporter, error, report)
    return false
  }
}

/**
 * Pushes `filter` to `exporter.updateHysteresis` (when it has one); never throws.
 *
 * @internal
 */
export function pushHysteresis(exporter: StabilityExporterLike, windowId: string, filter: Hysteresis, report: ExporterErrorReporter = warnOnce): boolean {
  try {
    exporter.updateHysteresis?.(windowId, filter)
    return true
  } catch (error) {
    failed(exporter, error, report)
    return false
  }
}
