import { parseArgs } from 'node:util'
import { REFERENCE_SCENARIO, type ScenarioOptions } from './simulation.js'

export const HELP = `Usage: auris-probe [run] [options]
       auris-probe serve [options]

run (the default): drive simulated FAB cores through the hook, the tracker
and the Prometheus exporter; print the table, the final state, the
Prometheus snapshot and the checks. Exit 0 when every check holds, 1 when
one fails, 2 on a usage error.

  --ticks N            ticks to simulate (default 100)
  --schedule LIST      degradation ticks, comma-separated (default 20,50,80)
  --seed N             degrade at random instead, each tick with probability --degrade-prob
  --degrade-prob P     probability of a degradation per tick with --seed (default 0.03)
  --windows N          windows to simulate: global, window-2, ... (default 1)
  --hysteresis         the anti-chatter probe: 50 x FAB2, 25 x (FAB1, FAB2), 50 x FAB1,
                       dwellTicks 50, rateLimitTicks 1000
  --json               print a machine-readable result instead of the table
  --no-snapshot        leave out the Prometheus snapshot
  --metrics on|off     the AURIS_METRICS_EXP flag for this run (default on)

serve: run the simulation continuously and serve /metrics/exp and
/metrics/exp/health (plus /probe/state, the probe's own view) until SIGINT
or SIGTERM.

  --port N             port (default 8010; 0 picks a free one)
  --host H             address to listen on (default 127.0.0.1)
  --tick-ms N          milliseconds between ticks (default 10; 0 ticks as fast as it can,
                       in batches that yield to I/O)
  --windows N          windows to simulate (default 1)
  --schedule LIST      degrade every window at these ticks of each 100-tick period
                       (default: at random, --degrade-prob per tick)
  --seed N             seed of the random degradations (default 1)
  --degrade-prob P     probability of a degradation per tick and window (default 0.01)
  --metrics on|off     the AURIS_METRICS_EXP flag (default on; off serves 503)
  --max-age-ms N       serve a render up to N ms old to concurrent scrapes (default 0: always fresh)
  --state-file PATH    restore the windows from PATH at start (a missing, truncated or edited
                       file is reported and the probe starts fresh), and snapshot them there
                       every --snapshot-ms and on exit, atomically
  --snapshot-ms N      snapshot period with --state-file (default 1000)

The probe sets AURIS_STABILITY_HOOK, AURIS_HYSTERESIS and AURIS_METRICS_EXP
for itself, as the reference probe does.
`

export class UsageError extends Error {
  override name = 'UsageError'
}

export interface RunOptions {
  command: 'run'
  scenario: ScenarioOptions
  hysteresis: boolean
  json: boolean
  snapshot: boolean
  metrics: boolean
}

export interface ServeOptions {
  command: 'serve'
  port: number
  host: string
  tickMs: number
  windows: number
  schedule: readonly number[] | null
  seed: number
  degradeProbability: number
  metrics: boolean
  maxAgeMs: number
  stateFile: string | null
  snapshotMs: number
}

export type ProbeCommand = RunOptions | ServeOptions | { command: 'help' }

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer in [${String(min)}, ${String(max)}]; got ${JSON.stringify(text)}`)
  return value
}

function probability(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!(value >= 0 && value <= 1)) throw new UsageError(`--degrade-prob must be a number in [0, 1]; got ${JSON.stringify(text)}`)
  return value
}

function schedule(text: string | undefined): number[] | null {
  if (text === undefined) return null
  if (text.trim() === '') return []
  return text.split(',').map((part) => {
    const tick = Number(part.trim())
    if (!Number.isInteger(tick) || tick < 1) throw new UsageError(`--schedule takes positive integers separated by commas; got ${JSON.stringify(part)}`)
    return tick
  })
}

function onOff(text: string | undefined): boolean {
  if (text === undefined || text === 'on') return true
  if (text === 'off') return false
  throw new UsageError(`--metrics must be on or off; got ${JSON.stringify(text)}`)
}

/** Parses the command line (without `node` and the script); throws {@link UsageError}. */
export function parseCommand(argv: readonly string[]): ProbeCommand {
  // `pnpm probe -- --help` passes the `--` through.
  const args = argv.filter((a, i) => !(a === '--' && i === 0))
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        ticks: { type: 'string' },
        schedule: { type: 'string' },
        seed: { type: 'string' },
        'degrade-prob': { type: 'string' },
        windows: { type: 'string' },
        hysteresis: { type: 'boolean' },
        json: { type: 'boolean' },
        'no-snapshot': { type: 'boolean' },
        metrics: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'tick-ms': { type: 'string' },
        'max-age-ms': { type: 'string' },
        'state-file': { type: 'string' },
        'snapshot-ms': { type: 'string' },
      },
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const v = parsed.values as Record<string, string | boolean | undefined>
  if (v.help === true) return { command: 'help' }
  const [command = 'run', ...extra] = parsed.positionals
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  const str = (name: string): string | undefined => v[name] as string | undefined
  if (command === 'run') {
    for (const name of ['port', 'host', 'tick-ms', 'max-age-ms', 'state-file', 'snapshot-ms']) if (v[name] !== undefined) throw new UsageError(`--${name} is an option of serve`)
    const seed = str('seed') === undefined ? undefined : integer('seed', str('seed'), 0, 0, 2 ** 32 - 1)
    const scenario: ScenarioOptions = {
      ...REFERENCE_SCENARIO,
      ticks: integer('ticks', str('ticks'), REFERENCE_SCENARIO.ticks, 1, 10_000_000),
      schedule: schedule(str('schedule')) ?? REFERENCE_SCENARIO.schedule,
      degradeProbability: probability(str('degrade-prob'), REFERENCE_SCENARIO.degradeProbability),
      windows: integer('windows', str('windows'), 1, 1, 100_000),
      ...(seed === undefined ? {} : { seed }),
    }
    return {
      command: 'run',
      scenario,
      hysteresis: v.hysteresis === true,
      json: v.json === true,
      snapshot: v['no-snapshot'] !== true,
      metrics: onOff(str('metrics')),
    }
  }
  if (command === 'serve') {
    for (const name of ['ticks', 'hysteresis', 'json', 'no-snapshot']) if (v[name] !== undefined) throw new UsageError(`--${name} is an option of run`)
    return {
      command: 'serve',
      port: integer('port', str('port'), 8010, 0, 65_535),
      host: str('host') ?? '127.0.0.1',
      tickMs: integer('tick-ms', str('tick-ms'), 10, 0, 60_000),
      windows: integer('windows', str('windows'), 1, 1, 100_000),
      schedule: schedule(str('schedule')),
      seed: integer('seed', str('seed'), 1, 0, 2 ** 32 - 1),
      degradeProbability: probability(str('degrade-prob'), 0.01),
      metrics: onOff(str('metrics')),
      maxAgeMs: integer('max-age-ms', str('max-age-ms'), 0, 0, 3_600_000),
      stateFile: str('state-file') ?? null,
      snapshotMs: integer('snapshot-ms', str('snapshot-ms'), 1000, 10, 3_600_000),
    }
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)} (run or serve)`)
}
