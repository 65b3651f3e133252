import { metricsRoutes } from '@auris/metrics-http'
import { alertRules, createStabilityExporter } from '@auris/prom-exporter'
import { createStabilityExporter as createOnRegistry } from '@auris/prom-exporter/prom-client'
import { Hysteresis, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { record } from './figures.js'

/** Values of the wrong type, non-finite, or far out of any range. */
const WRONG: [string, unknown][] = [
  ['a string', '5'],
  ['NaN', Number.NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['null', null],
  ['an object', {}],
  ['an array', [1]],
  ['a boolean', true],
  ['a BigInt', 5n],
  ['-1e9', -1e9],
  ['1e300', 1e300],
]

const NUMERIC: [string, string[], (options: Record<string, unknown>) => unknown][] = [
  ['StabilityTracker', ['minStableTicks', 'emaDecay', 'cooldownBase', 'cooldownMaxTicks', 'degradationThreshold'], (o) => new StabilityTracker(o)],
  ['Hysteresis', ['dwellTicks', 'rateLimitTicks', 'oscWindow', 'maxHistory', 'rateWindowMs'], (o) => new Hysteresis(o)],
  ['StabilityWindows', ['maxWindows', 'idleTtlMs'], (o) => new StabilityWindows(o)],
]

describe('3. bad config', () => {
  let cases = 0

  describe.each(NUMERIC)('%s', (owner, fields, build) => {
    it.each(fields)('refuses bad values of %s with a RangeError naming the field and the range', (field) => {
      for (const [label, value] of WRONG) {
        // Infinity is a legitimate "never" for idleTtlMs.
        if (owner === 'StabilityWindows' && field === 'idleTtlMs' && (value === Infinity || value === 1e300)) continue
        let error: unknown
        try {
          build({ [field]: value })
        } catch (e) {
          error = e
        }
        cases++
        expect(error, `${owner}.${field} = ${label}`).toBeInstanceOf(RangeError)
        expect((error as Error).message, `${owner}.${field} = ${label}`).toMatch(new RegExp(`"${field}" must be (a number|an integer) in [[(]`))
      }
    })
  })

  it('refuses bad non-numeric options, unknown options and non-object options', () => {
    const refused: [() => unknown, RegExp][] = [
      [() => new StabilityTracker({ clock: 5 } as never), /"clock" must be a function/],
      [() => new StabilityTracker({ strict: 'yes' } as never), /"strict" must be a boolean/],
      [() => new StabilityTracker({ decay: 0.9 } as never), /unknown option "decay"/],
      [() => new StabilityTracker('fast' as never), /options must be an object/],
      [() => new Hysteresis({ initialMode: 'FAB3' } as never), /"initialMode" must be one of/],
      [() => new StabilityWindows({ tracker: 5 } as never), /"tracker" must be an object/],
      [() => new StabilityWindows({ hysteresis: 'no' } as never), /"hysteresis" must be an object of filter options, or false/],
      [() => new StabilityWindows({ tracker: { emaDecay: 2 } }), /StabilityTracker: option "emaDecay"/],
      [() => createStabilityExporter({ maxWindows: 1.5 }), /"maxWindows" must be an integer/],
      [() => createStabilityExporter({ prefix: 'bad prefix' }), /option "prefix" must match/],
      [() => createOnRegistry({ registry: {} as unknown as Registry }), /must be a prom-client Registry/],
      [() => metricsRoutes({ sources: [] }), /at least one source/],
      [() => metricsRoutes({ sources: { contentType: 'x', metrics: () => '' }, timeoutMs: Number.NaN }), /"timeoutMs" must be a number/],
      [() => metricsRoutes({ sources: { contentType: 'x', metrics: () => '' }, auth: { bearerToken: '' } }), /"auth.bearerToken" must be a non-empty string/],
      [() => alertRules({ stabilityFor: 'soon' }), /"stabilityFor" must be a Prometheus duration/],
      [() => alertRules({ degradationsPerHourAbove: Number.NaN }), /"degradationsPerHourAbove" must be a finite number/],
    ]
    for (const [build, message] of refused) {
      cases++
      expect(build).toThrow(message)
    }
  })

  it('leaves nothing half-constructed: a refused exporter registers nothing', () => {
    const registry = new Registry()
    expect(() => createOnRegistry({ registry, maxWindows: -1 })).toThrow(RangeError)
    expect(registry.getMetricsAsArray()).toHaveLength(0)
    expect(() => createOnRegistry({ registry, prefix: '1x' })).toThrow(RangeError)
    expect(registry.getMetricsAsArray()).toHaveLength(0)
    // And the registry is still usable afterwards.
    expect(createOnRegistry({ registry }).registry.getMetricsAsArray().length).toBeGreaterThan(0)
    record('bad-config', { casesRefused: cases })
  })
})
