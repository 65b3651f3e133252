import { parseArgs } from 'node:util'
import { PUSH_FLAGS, pushOptions, type PushOptions } from './push.js'
import { REFERENCE_SCENARIO, type ScenarioOptions } from './simulation.js'
import { SLO_QUANTILES, type SloObjective, type SloOperator, type SloQuantile } from './slo.js'

export const HELP = `Usage: auris-probe [run] [options]
       auris-probe serve [options]

run (the default): drive simulated FAB cores through the hook, the tracker
and the Prometheus exporter; print the table, the final state, the
Prometheus snapshot and the checks.

  --ticks N            ticks to simulate, in [1, 10000000] (default 100)
  --schedule LIST      degradation ticks, comma-separated without spaces, in [1, --ticks],
                       or none (default 20,50,80)
  --seed N             degrade at random instead, each tick with probability --degrade-prob
  --degrade-prob P     probability of a degradation per tick with --seed, in [0, 1] (default 0.03)
  --windows N          windows to simulate: global, window-2, ..., in [1, 100000] (default 1)
  --hysteresis         the anti-chatter probe: 50 x FAB2, 25 x (FAB1, FAB2), 50 x FAB1,
                       dwellTicks 50, rateLimitTicks 1000
  --slo OBJECTIVE      a stability SLO the run must meet, such as p50>=0.8: quantile p50, p95
                       or p99 of the per-tick stability scores, operator >=, >, <= or <,
                       threshold in [0, 1]; every window must meet it (exit 1 otherwise).
                       Repeat the flag or separate objectives with commas
  --json               print a machine-readable result instead of the table (with the
                       transitions and the score quantiles)
  --no-snapshot        leave out the Prometheus snapshot
  --metrics on|off     the AURIS_METRICS_EXP flag for this run (default on)
  --report FILE        also write an HTML report (charts of window "global", the checks)
  --push URL           push the final metrics to the Pushgateway at URL (http or https) as the
                       group job/<--push-job>/<labels>/run_id/<run id>, then delete the job's
                       groups pushed more than --push-ttl-s seconds ago
  --push-job NAME      the group's job label (default auris-probe)
  --push-label K=V     one more grouping label; repeat for several
  --push-run-id ID     the run id (default: start time and 48 random bits, unique per run)
  --push-ttl-s N       delete the job's groups older than N s after pushing, in [0, 31536000]
                       (default 3600, the push rules' pushMaxAge; 0 deletes none)

serve: run the simulation continuously and serve /metrics/exp,
/metrics/exp/health, /probe/state (the probe's own view), POST /probe/pause
and a live page at / until SIGINT or SIGTERM.

  --port N             port, in [0, 65535] (default 8010; 0 picks a free one)
  --host H             address to listen on (default 127.0.0.1)
  --tick-ms N          milliseconds between ticks, in [0, 60000] (default 10; 0 ticks as fast
                       as it can, in batches that yield to I/O)
  --windows N          windows to simulate, in [1, 100000] (default 1)
  (default scenario)   a story repeated every 48,000 ticks (8 min at 10 ms): healthy 6,000
                       ticks, degrading 24,000 (each tick degrades with probability 0.005),
                       recovering 18,000
  --schedule LIST      instead: degrade every window at these ticks of each 100-tick period,
                       in [1, 100]
  --degrade-prob P     instead: degrade each tick and window with probability P, in [0, 1]
  --seed N             seed of the random degradations (default 1)
  --metrics on|off     the AURIS_METRICS_EXP flag (default on; off serves 503)
  --max-age-ms N       serve a render up to N ms old to concurrent scrapes, in [0, 3600000]
                       (default 0: always fresh)
  --state-file PATH    restore the windows from PATH at start, then snapshot them there every
                       --snapshot-ms and on exit (atomically, through a symbolic link to its
                       target); a file that does not fit is kept as PATH.rejected-<time>
  --snapshot-ms N      pause between snapshots with --state-file, in [10, 3600000] (default 1000)
  --state-max-mb N     largest state file read or written, MiB, in [1, 512] (default 256)
  --workers N          run a Node cluster of N workers, in [1, 64], sharing the port: each
                       worker simulates its own cores, and every scrape, whichever worker
                       accepts it, serves all of them (series labelled worker="0".."N-1");
                       a worker that dies is respawned into its slot, its counters continue
  --cluster-mode M     with --workers: worker (default, a worker label on every series) or
                       aggregate (one series per window: the worst worker for gauges, the
                       sum for counters)
  --degrade-every LIST instead of the story: worker k's windows degrade every LIST[k] ticks
                       (the list repeats; 0 never), in [0, 1000000], e.g. 0,0,0,5

Numbers are plain decimals: no sign, spaces, exponent or hex.

Exit status: 0 every check held, or serve stopped by SIGINT/SIGTERM; 1 a
check failed; 2 a usage error; 3 something the probe needs failed (the
address, the state file, the report file); 4 an internal error. Errors are
one line on stderr.

The probe sets AURIS_STABILITY_HOOK, AURIS_HYSTERESIS and AURIS_METRICS_EXP
for itself.
`

/** A usage error: a bad flag or value (exit status 2). */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Something the probe needs failed: an address, the state file, the report file (exit status 3). */
export class ProbeFailure extends Error {
  override name = 'ProbeFailure'
}

/** Exit statuses, as documented in the README and `--help`. */
export const EXIT = Object.freeze({ ok: 0, checkFailed: 1, usage: 2, failure: 3, internal: 4 })

/** How `serve` decides when a window degrades. */
export type ServeScenario = 'cycle' | 'random' | 'schedule' | 'every'

export interface RunOptions {
  command: 'run'
  scenario: ScenarioOptions
  hysteresis: boolean
  json: boolean
  /** Objectives of `--slo` (empty: none, the run is not gated). */
  slo: readonly SloObjective[]
  snapshot: boolean
  metrics: boolean
  /** Write the HTML report here (null: none). */
  report: string | null
  /** Push the final metrics to a Pushgateway (`--push`); absent: no push. */
  push?: PushOptions
}

export interface ServeOptions {
  command: 'serve'
  port: number
  host: string
  tickMs: number
  windows: number
  /** `cycle` (the default story), `random` (`--degrade-prob`), `schedule` (`--schedule`). */
  scenario: ServeScenario
  schedule: readonly number[] | null
  seed: number
  degradeProbability: number
  metrics: boolean
  maxAgeMs: number
  stateFile: string | null
  snapshotMs: number
  /** Largest state file read or written, in bytes. */
  stateMaxBytes: number
  /** With `--workers`: the cluster's worker count (absent: one process, no cluster). */
  workers?: number
  /** With `--workers`: `worker` (a worker label on every series) or `aggregate`. */
  clusterMode?: 'worker' | 'aggregate'
  /** Scenario `every`: worker k degrades every `degradeEvery[k % length]` ticks (0: never). */
  degradeEvery?: readonly number[]
}

export type ProbeCommand = RunOptions | ServeOptions | { command: 'help' }

const DIGITS = /^[0-9]+$/
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/

const show = (text: string): string => JSON.stringify(text)

/** A decimal integer in [min, max]: digits only (no sign, space, exponent, hex or fraction). */
export function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback
  const range = `[${String(min)}, ${String(max)}]`
  if (!DIGITS.test(text)) throw new UsageError(`--${name} must be a decimal integer in ${range}, digits only; got ${show(text)}`)
  const value = Number(text)
  if (value < min || value > max) throw new UsageError(`--${name} must be in ${range}; got ${text}`)
  return value
}

/** A plain decimal number (`0.25`, `1`) in [0, 1]. */
export function probability(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  if (!DECIMAL.test(text)) throw new UsageError(`--degrade-prob must be a decimal number in [0, 1] such as 0.01; got ${show(text)}`)
  const value = Number(text)
  if (value > 1) throw new UsageError(`--degrade-prob must be in [0, 1]; got ${text}`)
  return value
}

/** Comma-separated ticks in [1, max], or `none`. */
export function schedule(text: string | undefined, max: number, what: string): number[] | null {
  if (text === undefined) return null
  if (text === 'none') return []
  const parts = text.split(',')
  return parts.map((part) => {
    if (!DIGITS.test(part)) throw new UsageError(`--schedule takes ${what} in [1, ${String(max)}] separated by commas without spaces (e.g. 20,50,80), or none; got ${show(part)} in ${show(text)}`)
    const tick = Number(part)
    if (tick < 1 || tick > max) throw new UsageError(`--schedule takes ${what} in [1, ${String(max)}]; got ${part}`)
    return tick
  })
}

const OBJECTIVE = /^(p[0-9]+)\s*(>=|>|<=|<)\s*([0-9]+(?:\.[0-9]+)?)$/

/** The objectives of every `--slo`, each comma-separated; `p50>=0.8`, `p99 > 0.5`. */
export function sloObjectives(texts: readonly string[]): SloObjective[] {
  return texts.flatMap((text) =>
    text.split(',').map((part): SloObjective => {
      const trimmed = part.trim()
      const m = OBJECTIVE.exec(trimmed)
      if (m === null) {
        throw new UsageError(`--slo takes objectives such as p50>=0.8 (p50, p95 or p99; >=, >, <= or <; a plain decimal in [0, 1]), comma-separated or repeated; got ${show(trimmed)}${text.includes(',') ? ` in ${show(text)}` : ''}`)
      }
      const [, quantile, operator, number] = m as unknown as [string, string, SloOperator, string]
      if (!(quantile in SLO_QUANTILES)) throw new UsageError(`--slo knows the quantiles p50, p95 and p99; got ${show(quantile)} in ${show(trimmed)}`)
      const threshold = Number(number)
      if (threshold > 1) throw new UsageError(`--slo thresholds are stability scores, in [0, 1]; got ${number} in ${show(trimmed)}`)
      return { objective: `${quantile}${operator}${number}`, quantile: quantile as SloQuantile, operator, threshold }
    }),
  )
}

/** `--degrade-every`: ticks between degradations per worker, comma-separated, each in [0, 1000000]. */
function degradeEvery(text: string | undefined): number[] | null {
  if (text === undefined) return null
  return text.split(',').map((part) => integer('degrade-every', part, 0, 0, 1_000_000))
}

function onOff(text: string | undefined): boolean {
  if (text === undefined || text === 'on') return true
  if (text === 'off') return false
  throw new UsageError(`--metrics must be on or off; got ${show(text)}`)
}

function hostName(text: string | undefined): string {
  if (text === undefined) return '127.0.0.1'
  // Names and addresses only: the listen call reports what does not resolve.
  if (!/^[A-Za-z0-9.:%_-]{1,253}$/.test(text)) throw new UsageError(`--host must be a host name or an IP address such as 127.0.0.1 or ::1; got ${show(text)}`)
  return text
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
        slo: { type: 'string', multiple: true },
        'no-snapshot': { type: 'boolean' },
        metrics: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'tick-ms': { type: 'string' },
        'max-age-ms': { type: 'string' },
        'state-file': { type: 'string' },
        'snapshot-ms': { type: 'string' },
        'state-max-mb': { type: 'string' },
        workers: { type: 'string' },
        'cluster-mode': { type: 'string' },
        'degrade-every': { type: 'string' },
        report: { type: 'string' },
        ...PUSH_FLAGS,
      },
    })
  } catch (error) {
    const e = error as Error & { code?: unknown }
    // `--seed -1`: parseArgs takes the value for another option and explains over three lines.
    const dashed = /^Option '(--[a-z-]+)' argument is ambiguous/.exec(e.message)
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && dashed !== null) {
      const at = args.indexOf(dashed[1] as string)
      const value = at >= 0 ? args[at + 1] : undefined
      throw new UsageError(`${dashed[1] as string} needs a value; got ${value === undefined ? 'an option' : JSON.stringify(value)} (no value here starts with "-"; numbers take no sign)`)
    }
    // One line, whatever parseArgs says.
    throw new UsageError((e.message.split('\n')[0] as string).trim())
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>
  if (v.help === true) return { command: 'help' }
  const [command = 'run', ...extra] = parsed.positionals
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  const str = (name: string): string | undefined => v[name] as string | undefined
  if (command === 'run') {
    for (const name of ['port', 'host', 'tick-ms', 'max-age-ms', 'state-file', 'snapshot-ms', 'state-max-mb', 'workers', 'cluster-mode', 'degrade-every']) if (v[name] !== undefined) throw new UsageError(`--${name} is an option of serve`)
    const seed = str('seed') === undefined ? undefined : integer('seed', str('seed'), 0, 0, 2 ** 32 - 1)
    const ticks = integer('ticks', str('ticks'), REFERENCE_SCENARIO.ticks, 1, 10_000_000)
    const report = str('report')
    if (report === '') throw new UsageError('--report needs a file name, such as report.html')
    if (report !== undefined && v.hysteresis === true) throw new UsageError('--report draws the stability scenario; leave out --hysteresis')
    const slo = sloObjectives((v.slo as string[] | undefined) ?? [])
    if (slo.length > 0 && v.hysteresis === true) throw new UsageError('--slo gates the stability scenario; leave out --hysteresis')
    const scenario: ScenarioOptions = {
      ...REFERENCE_SCENARIO,
      ticks,
      schedule: schedule(str('schedule'), ticks, 'ticks') ?? REFERENCE_SCENARIO.schedule,
      degradeProbability: probability(str('degrade-prob'), REFERENCE_SCENARIO.degradeProbability),
      windows: integer('windows', str('windows'), 1, 1, 100_000),
      ...(seed === undefined ? {} : { seed }),
    }
    return {
      command: 'run',
      scenario,
      hysteresis: v.hysteresis === true,
      json: v.json === true,
      slo,
      snapshot: v['no-snapshot'] !== true,
      metrics: onOff(str('metrics')),
      report: report ?? null,
      ...pushOptions(v),
    }
  }
  if (command === 'serve') {
    for (const name of ['ticks', 'hysteresis', 'json', 'no-snapshot', 'report']) if (v[name] !== undefined) throw new UsageError(`--${name} is an option of run`)
    for (const name of Object.keys(PUSH_FLAGS)) if (v[name] !== undefined) throw new UsageError(`--${name} is an option of run (a server is scraped, not pushed)`)
    const periodic = schedule(str('schedule'), 100, 'ticks of each 100-tick period')
    const prob = str('degrade-prob')
    // A server runs until stopped: there is no end of run to judge.
    if (v.slo !== undefined) throw new UsageError('--slo is an option of run')
    const every = degradeEvery(str('degrade-every'))
    if ([periodic !== null, prob !== undefined, every !== null].filter(Boolean).length > 1) throw new UsageError('--schedule, --degrade-prob and --degrade-every exclude each other: give one')
    const stateFile = str('state-file')
    if (stateFile === '') throw new UsageError('--state-file needs a file name, such as state.json')
    const workers = str('workers') === undefined ? undefined : integer('workers', str('workers'), 1, 1, 64)
    const clusterMode = str('cluster-mode')
    if (clusterMode !== undefined && workers === undefined) throw new UsageError('--cluster-mode needs --workers')
    if (clusterMode !== undefined && clusterMode !== 'worker' && clusterMode !== 'aggregate') throw new UsageError(`--cluster-mode must be worker or aggregate; got ${show(clusterMode)}`)
    // One state file per process: N workers would overwrite each other's.
    if (workers !== undefined && stateFile !== undefined) throw new UsageError('--state-file and --workers exclude each other: a state file holds one process\'s windows')
    return {
      ...(workers === undefined ? {} : { workers, clusterMode: clusterMode ?? 'worker' }),
      ...(every === null ? {} : { degradeEvery: every }),
      command: 'serve',
      port: integer('port', str('port'), 8010, 0, 65_535),
      host: hostName(str('host')),
      tickMs: integer('tick-ms', str('tick-ms'), 10, 0, 60_000),
      windows: integer('windows', str('windows'), 1, 1, 100_000),
      scenario: periodic !== null ? 'schedule' : prob !== undefined ? 'random' : every !== null ? 'every' : 'cycle',
      schedule: periodic,
      seed: integer('seed', str('seed'), 1, 0, 2 ** 32 - 1),
      degradeProbability: probability(prob, 0.01),
      metrics: onOff(str('metrics')),
      maxAgeMs: integer('max-age-ms', str('max-age-ms'), 0, 0, 3_600_000),
      stateFile: stateFile ?? null,
      snapshotMs: integer('snapshot-ms', str('snapshot-ms'), 1000, 10, 3_600_000),
      stateMaxBytes: integer('state-max-mb', str('state-max-mb'), 256, 1, 512) * 1024 * 1024,
    }
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)} (run or serve)`)
}
