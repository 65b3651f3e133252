import { describe, expect, it } from 'vitest'
import { UsageError, parseCommand } from './args.js'
import { REFERENCE_SCENARIO } from './simulation.js'

describe('parseCommand', () => {
  it('defaults to the reference run', () => {
    expect(parseCommand([])).toEqual({ command: 'run', scenario: REFERENCE_SCENARIO, hysteresis: false, json: false, slo: [], snapshot: true, metrics: true, report: null })
    expect(parseCommand(['--', 'run'])).toMatchObject({ command: 'run' })
  })

  it('reads run options', () => {
    const c = parseCommand(['--ticks', '200', '--schedule', '5,7', '--windows', '3', '--seed', '4', '--degrade-prob', '0.5', '--json', '--no-snapshot', '--metrics', 'off', '--hysteresis'])
    expect(parseCommand(['--slo', 'p50>=0.8,p95>0.5', '--slo=p99>=0.1'])).toMatchObject({ slo: [{ objective: 'p50>=0.8' }, { objective: 'p95>0.5' }, { objective: 'p99>=0.1' }] })
    expect(c).toEqual({
      command: 'run',
      scenario: { ...REFERENCE_SCENARIO, ticks: 200, schedule: [5, 7], windows: 3, seed: 4, degradeProbability: 0.5 },
      hysteresis: true,
      json: true,
      slo: [],
      snapshot: false,
      metrics: false,
      report: null,
    })
    expect(parseCommand(['--report', 'r.html', '--schedule', 'none'])).toMatchObject({ report: 'r.html', scenario: { schedule: [] } })
  })

  it('reads serve options', () => {
    expect(parseCommand(['serve'])).toEqual({
      command: 'serve',
      port: 8010,
      host: '127.0.0.1',
      tickMs: 10,
      windows: 1,
      scenario: 'cycle',
      schedule: null,
      seed: 1,
      degradeProbability: 0.01,
      metrics: true,
      maxAgeMs: 0,
      stateFile: null,
      snapshotMs: 1000,
      stateMaxBytes: 268_435_456,
    })
    expect(parseCommand(['serve', '--degrade-prob', '0.25', '--state-file', 's.json', '--state-max-mb', '1'])).toMatchObject({ scenario: 'random', degradeProbability: 0.25, stateFile: 's.json', stateMaxBytes: 1_048_576 })
    expect(parseCommand(['serve', '--port', '0', '--host', '::1', '--tick-ms', '5', '--windows', '1000', '--schedule', '20,50', '--seed', '3', '--metrics', 'on', '--max-age-ms', '250'])).toMatchObject({
      maxAgeMs: 250,
      port: 0,
      host: '::1',
      tickMs: 5,
      windows: 1000,
      schedule: [20, 50],
      scenario: 'schedule',
      seed: 3,
    })
  })

  it('reads the cluster options of serve', () => {
    expect(parseCommand(['serve', '--workers', '4'])).toMatchObject({ workers: 4, clusterMode: 'worker', scenario: 'cycle' })
    expect(parseCommand(['serve', '--workers', '2', '--cluster-mode', 'aggregate', '--degrade-every', '0,0,0,5'])).toMatchObject({
      workers: 2,
      clusterMode: 'aggregate',
      scenario: 'every',
      degradeEvery: [0, 0, 0, 5],
    })
    expect(parseCommand(['serve', '--degrade-every', '7'])).toMatchObject({ scenario: 'every', degradeEvery: [7] })
    expect(parseCommand(['serve'])).not.toHaveProperty('workers')
  })

  it('answers help', () => {
    expect(parseCommand(['-h'])).toEqual({ command: 'help' })
  })

  it.each([
    [['--ticks', 'x'], /--ticks must be a decimal integer in \[1, 10000000\], digits only; got "x"/],
    [['--ticks', '0x10'], /--ticks must be a decimal integer in \[1, 10000000\], digits only; got "0x10"/],
    [['--ticks', '1e3'], /--ticks must be a decimal integer .*; got "1e3"/],
    [['--ticks', ' 5 '], /--ticks must be a decimal integer .*; got " 5 "/],
    [['--ticks', ''], /--ticks must be a decimal integer .*; got ""/],
    [['--ticks', '5.0'], /--ticks must be a decimal integer .*; got "5.0"/],
    [['--ticks', '+5'], /--ticks must be a decimal integer .*; got "\+5"/],
    [['--ticks', '0'], /--ticks must be in \[1, 10000000\]; got 0/],
    [['--ticks', '1'.padEnd(400, '0')], /--ticks must be in \[1, 10000000\]; got 10000/],
    [['--windows', '100001'], /--windows must be in \[1, 100000\]; got 100001/],
    [['--degrade-prob', '2'], /--degrade-prob must be in \[0, 1\]; got 2/],
    [['--degrade-prob', ''], /--degrade-prob must be a decimal number in \[0, 1\] such as 0.01; got ""/],
    [['--degrade-prob', '1e-2'], /--degrade-prob must be a decimal number .*; got "1e-2"/],
    [['--degrade-prob', '.5'], /--degrade-prob must be a decimal number .*; got ".5"/],
    [['--degrade-prob', 'NaN'], /--degrade-prob must be a decimal number .*; got "NaN"/],
    [['--schedule', '1,-2'], /--schedule takes ticks in \[1, 100\] separated by commas without spaces .*; got "-2" in "1,-2"/],
    [['--schedule', '5, 7'], /got " 7" in "5, 7"/],
    [['--schedule', ''], /--schedule takes ticks .*; got "" in ""/],
    [['--schedule', '101'], /--schedule takes ticks in \[1, 100\]; got 101/],
    [['serve', '--schedule', '1e300'], /--schedule takes ticks of each 100-tick period in \[1, 100\] .*; got "1e300"/],
    [['serve', '--schedule', '0'], /--schedule takes ticks of each 100-tick period in \[1, 100\]; got 0/],
    [['serve', '--schedule', '5', '--degrade-prob', '0.1'], /--schedule, --degrade-prob and --degrade-every exclude each other/],
    [['serve', '--workers', '0'], /--workers must be in \[1, 64\]; got 0/],
    [['serve', '--workers', '65'], /--workers must be in \[1, 64\]; got 65/],
    [['serve', '--cluster-mode', 'aggregate'], /--cluster-mode needs --workers/],
    [['serve', '--workers', '2', '--cluster-mode', 'sum'], /--cluster-mode must be worker or aggregate; got "sum"/],
    [['serve', '--workers', '2', '--state-file', 's.json'], /--state-file and --workers exclude each other/],
    [['serve', '--degrade-every', '5,x'], /--degrade-every must be a decimal integer in \[0, 1000000\], digits only; got "x"/],
    [['serve', '--degrade-every', '1000001'], /--degrade-every must be in \[0, 1000000\]; got 1000001/],
    [['serve', '--degrade-every', '5', '--schedule', '5'], /--schedule, --degrade-prob and --degrade-every exclude each other/],
    [['--workers', '2'], /--workers is an option of serve/],
    [['serve', '--host', 'a b'], /--host must be a host name or an IP address .*; got "a b"/],
    [['serve', '--host', ''], /--host must be a host name/],
    [['serve', '--state-file', ''], /--state-file needs a file name/],
    [['serve', '--state-max-mb', '513'], /--state-max-mb must be in \[1, 512\]; got 513/],
    [['serve', '--tick-ms=-1'], /--tick-ms must be a decimal integer .*; got "-1"/],
    [['serve', '--report', 'x.html'], /--report is an option of run/],
    [['--report', ''], /--report needs a file name/],
    [['--report', 'r.html', '--hysteresis'], /--report draws the stability scenario; leave out --hysteresis/],
    [['--metrics', 'maybe'], /--metrics must be on or off/],
    [['--port', '1'], /--port is an option of serve/],
    [['serve', '--json'], /--json is an option of run/],
    [['serve', '--port', '70000'], /--port must be in \[0, 65535\]; got 70000/],
    [['run', 'extra'], /unexpected argument "extra"/],
    [['jump'], /unknown command "jump"/],
    [['--nope'], /Unknown option '--nope'/],
    [['--seed', '-1'], /^--seed needs a value; got "-1" \(no value here starts with "-"; numbers take no sign\)$/],
    [['serve', '--host', '-x'], /^--host needs a value; got "-x" \(no value here starts with "-"; numbers take no sign\)$/],
  ])('refuses %j', (args, message) => {
    expect(() => parseCommand(args)).toThrow(UsageError)
    expect(() => parseCommand(args)).toThrow(message)
  })
})
