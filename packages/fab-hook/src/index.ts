/**
 * @module
 * Connects any FAB core to a stability tracker and an anti-chatter filter
 * without touching the core's code, behind the `AURIS_STABILITY_HOOK`,
 * `AURIS_HYSTERESIS` and `AURIS_METRICS_EXP` flags. Takes an exporter as an
 * argument instead of importing one; runs on every runtime.
 */
export { DEFAULT_SCORE, detectDegradation, extractFabScore, readTick, type FabCoreLike } from './contract.js'
export { exporterFailures, warnOnce, type ExporterErrorReporter, type StabilityExporterLike } from './exporter.js'
export {
  PRODUCTION_TRACKER,
  attach,
  attachToFab,
  lastStabilityMetrics,
  maybeTick,
  type AttachOptions,
  type AttachedTracker,
  type MaybeTickOptions,
} from './hook.js'
export { attachHysteresis, maybeHyst, type AttachHysteresisOptions, type MaybeHystOptions } from './hysteresis-hook.js'
export { steer, type SteerDecision, type SteerOptions, type Steering } from './steer.js'
