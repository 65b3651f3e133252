import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Hysteresis } from './hysteresis.js'
import * as core from './index.js'
import { STABILITY_KIND, isHysteresis, isStabilityTracker, isStabilityWindows } from './kind.js'
import { StabilityTracker } from './tracker.js'
import { StabilityWindows } from './windows.js'

/** A second installed copy of the package: the built dist copied to a temp dir, loaded by file URL. */
const dir = mkdtempSync(join(tmpdir(), 'auris-core-copy-'))
cpSync(new URL('../dist', import.meta.url), join(dir, 'dist'), { recursive: true })
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@auris/stability-core', type: 'module' }))
const other = (await import(pathToFileURL(join(dir, 'dist/index.js')).href)) as typeof core

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('cross-copy brands', () => {
  it('uses the registered symbol, on the prototype, not enumerable', () => {
    expect(STABILITY_KIND).toBe(Symbol.for('@auris/stability-core.kind'))
    const tracker = new StabilityTracker()
    expect(tracker[STABILITY_KIND]).toBe('tracker')
    expect(new Hysteresis()[STABILITY_KIND]).toBe('hysteresis')
    expect(new StabilityWindows()[STABILITY_KIND]).toBe('windows')
    expect(Object.prototype.hasOwnProperty.call(tracker, STABILITY_KIND)).toBe(false)
    expect(Object.getOwnPropertyDescriptor(StabilityTracker.prototype, STABILITY_KIND)).toEqual({ value: 'tracker', enumerable: false, writable: false, configurable: false })
    expect(Object.keys(tracker)).not.toContain(String(STABILITY_KIND))
  })

  it('recognises objects of another installed copy, where instanceof does not', () => {
    const tracker = new other.StabilityTracker()
    const filter = new other.Hysteresis()
    const windows = new other.StabilityWindows()
    expect(tracker instanceof StabilityTracker).toBe(false)
    expect(windows instanceof StabilityWindows).toBe(false)
    expect([isStabilityTracker(tracker), isHysteresis(filter), isStabilityWindows(windows)]).toEqual([true, true, true])
    expect([other.isStabilityTracker(new StabilityTracker()), other.isHysteresis(new Hysteresis()), other.isStabilityWindows(new StabilityWindows())]).toEqual([true, true, true])
    expect(other.STABILITY_KIND).toBe(STABILITY_KIND)
  })

  it('tells the kinds apart', () => {
    expect([isStabilityTracker(new Hysteresis()), isHysteresis(new StabilityWindows()), isStabilityWindows(new StabilityTracker())]).toEqual([false, false, false])
  })

  it('never throws, whatever the value', () => {
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile')
        },
      },
    )
    const getter = Object.defineProperty({}, STABILITY_KIND, {
      get() {
        throw new Error('hostile')
      },
    })
    for (const value of [null, undefined, 0, 'tracker', Symbol('x'), revoked.proxy, throwing, getter, () => 0, { [STABILITY_KIND]: 'other' }]) {
      expect([isStabilityTracker(value), isHysteresis(value), isStabilityWindows(value)]).toEqual([false, false, false])
    }
  })

  it('is exported from the root', () => {
    expect(core.STABILITY_KIND).toBe(STABILITY_KIND)
    expect(core.isStabilityTracker).toBe(isStabilityTracker)
  })
})
