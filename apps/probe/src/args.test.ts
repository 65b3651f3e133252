import { describe, expect, it } from 'vitest'
import { UsageError, parseCommand } from './args.js'
import { REFERENCE_SCENARIO } from './simulation.js'

describe('parseCommand', () => {
  it('defaults to the reference run', () => {
    expect(parseCommand([])).toEqual({ command: 'run', scenario: REFERENCE_SCENARIO, hysteresis: false, json: false, snapshot: true, metrics: true })
    expect(parseCommand(['--', 'run'])).toMatchObject({ command: 'run' })
  })

  it('reads run options', () => {
    const c = parseCommand(['--ticks', '200', '--schedule', '5, 7', '--windows', '3', '--seed', '4', '--degrade-prob', '0.5', '--json', '--no-snapshot', '--metrics', 'off', '--hysteresis'])
    expect(c).toEqual({
      command: 'run',
      scenario: { ...REFERENCE_SCENARIO, ticks: 200, schedule: [5, 7], windows: 3, seed: 4, degradeProbability: 0.5 },
      hysteresis: true,
      json: true,
      snapshot: false,
      metrics: false,
    })
  })

  it('reads serve options', () => {
    expect(parseCommand(['serve'])).toEqual({ command: 'serve', port: 8010, host: '127.0.0.1', tickMs: 10, windows: 1, schedule: null, seed: 1, degradeProbability: 0.01, metrics: true, maxAgeMs: 0, stateFile: null, snapshotMs: 1000 })
    expect(parseCommand(['serve', '--port', '0', '--host', '::1', '--tick-ms', '5', '--windows', '1000', '--schedule', '20,50', '--seed', '3', '--metrics', 'on', '--max-age-ms', '250'])).toMatchObject({
      maxAgeMs: 250,
      port: 0,
      host: '::1',
      tickMs: 5,
      windows: 1000,
      schedule: [20, 50],
      seed: 3,
    })
  })

  it('answers help', () => {
    expect(parseCommand(['-h'])).toEqual({ command: 'help' })
  })

  it.each([
    [['--ticks', 'x'], /--ticks must be an integer in \[1, 10000000\]; got "x"/],
    [['--degrade-prob', '2'], /--degrade-prob must be a number in \[0, 1\]/],
    [['--schedule', '1,-2'], /--schedule takes positive integers/],
    [['--metrics', 'maybe'], /--metrics must be on or off/],
    [['--port', '1'], /--port is an option of serve/],
    [['serve', '--json'], /--json is an option of run/],
    [['serve', '--port', '70000'], /--port must be an integer in \[0, 65535\]/],
    [['run', 'extra'], /unexpected argument "extra"/],
    [['jump'], /unknown command "jump"/],
    [['--nope'], /Unknown option '--nope'/],
  ])('refuses %j', (args, message) => {
    expect(() => parseCommand(args)).toThrow(UsageError)
    expect(() => parseCommand(args)).toThrow(message)
  })
})
