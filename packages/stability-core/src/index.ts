/**
 * Stability state for an adaptive FAB core: a tracker that turns quality
 * samples into a stability score, its EMA and a recommended mode; an
 * anti-chatter filter that keeps the effective mode from flapping; and a
 * registry of both per window. No dependencies, no I/O: runs on Node, Bun,
 * Deno, Workers and browsers.
 *
 * @module
 */
export { monotonicClock, type Clock } from './clock.js'
export { EVENT_BUCKETS, EventWindow } from './event-window.js'
export { FEATURE_FLAGS, defaultEnv, flagEnabled, isFlagOn, readFlag, type EnvRecord, type FeatureFlag } from './flags.js'
export {
  HYSTERESIS_DEFAULTS,
  HYSTERESIS_SNAPSHOT_FORMAT,
  Hysteresis,
  resolveHysteresisConfig,
  type HysteresisChange,
  type HysteresisConfig,
  type HysteresisMetrics,
  type HysteresisOptions,
  type HysteresisRestoreOptions,
  type HysteresisSnapshot,
  type PinInfo,
  type PinOptions,
} from './hysteresis.js'
export { STABILITY_KIND, isHysteresis, isStabilityTracker, isStabilityWindows, type StabilityKind } from './kind.js'
export {
  FAB1_MIN_EMA,
  FAB2_MIN_EMA,
  FAB_MODES,
  MODE_TO_NUMERIC,
  NUMERIC_TO_MODE,
  isFabMode,
  modeForEma,
  type FabMode,
} from './modes.js'
export { DEFAULT_SCORE_BUCKETS, MAX_SCORE_BUCKETS, type ScoreHistogram } from './score-histogram.js'
export { SnapshotError } from './snapshot-error.js'
export {
  HOUR_MS,
  StabilityTracker,
  TRACKER_DEFAULTS,
  TRACKER_SNAPSHOT_FORMAT,
  resolveTrackerConfig,
  type StabilityMetrics,
  type StabilityTrackerChange,
  type StabilityTrackerConfig,
  type StabilityTrackerOptions,
  type StabilityTrackerRestoreOptions,
  type StabilityTrackerSnapshot,
} from './tracker.js'
export type { HoldReason, TransitionEvent, TransitionKind, TransitionListener, TransitionReason } from './transitions.js'
export {
  booleanOption,
  checkOptionKeys,
  describeRange,
  describeValue,
  functionOption,
  inRange,
  numberOption,
  rangeError,
  type NumberRange,
} from './validate.js'
export { MAX_WINDOW_ID_LENGTH, isValidWindowId, windowIdProblem } from './window-id.js'
export {
  StabilityWindows,
  WINDOWS_SNAPSHOT_FORMAT,
  type StabilityWindow,
  type StabilityWindowsOptions,
  type StabilityWindowsRestoreOptions,
  type StabilityWindowsSnapshot,
  type WindowConfig,
  type WindowOverride,
  type WindowRejections,
  type WindowsChange,
} from './windows.js'
