import type { FabMode } from '../modes.js'

/** Types of the reference vectors (the reference implementation's per-tick state, `reference-vectors.json`), shared by the tests that replay them. */

export interface TrackerCase {
  name: string
  kind: 'tracker'
  config: { minStableTicks: number; emaDecay: number; cooldownBase: number; cooldownMaxTicks: number; degradationThreshold: number }
  startTime: number
  tickSeconds: number
  inputs: [number, boolean][]
  fields: string[]
  expected: unknown[][]
}

export interface HysteresisCase {
  name: string
  kind: 'hysteresis'
  config: { dwellTicks: number; rateLimitTicks: number; oscWindow: number; maxHistory: number }
  desired: FabMode[]
  fields: string[]
  expected: unknown[][]
}

/** The shape of `reference-vectors.json`. */
export interface ReferenceVectors {
  cases: (TrackerCase | HysteresisCase)[]
}
