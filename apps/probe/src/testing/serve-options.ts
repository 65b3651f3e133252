import type { ServeOptions } from '../args.js'

/** `probe serve` options for the tests: two windows degrading at ticks 1 and 2, a 5 ms tick, an ephemeral port, no state file. */
export const TEST_SERVE_OPTIONS: ServeOptions = Object.freeze({
  command: 'serve',
  port: 0,
  host: '127.0.0.1',
  tickMs: 5,
  windows: 2,
  scenario: 'schedule',
  schedule: [1, 2],
  seed: 1,
  degradeProbability: 0,
  metrics: true,
  maxAgeMs: 0,
  stateFile: null,
  snapshotMs: 1000,
  stateMaxBytes: 256 * 1024 * 1024,
})
