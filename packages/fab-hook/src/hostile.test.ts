import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type * as core from '@auris/stability-core'
import { Hysteresis, StabilityTracker, StabilityWindows } from '@auris/stability-core'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { detectDegradation, extractFabScore, readTick, type FabCoreLike } from './contract.js'
import { attach, maybeTick } from './hook.js'
import { attachHysteresis, maybeHyst } from './hysteresis-hook.js'

const ON = { AURIS_STABILITY_HOOK: 'on', AURIS_METRICS_EXP: 'on', AURIS_HYSTERESIS: 'on' }

function throwingProxy(): object {
  return new Proxy(
    {},
    {
      get() {
        throw new Error('hostile get')
      },
      has() {
        throw new Error('hostile has')
      },
    },
  )
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

function throwingGetter(key: string): object {
  return Object.defineProperty({}, key, {
    get() {
      throw new Error(`hostile ${key}`)
    },
  })
}

/** Cores no field can be read from: every one must give an invalid sample, never a throw. */
const unreadable: [string, () => unknown][] = [
  ['null (JSON.parse("null") from a Python core)', () => JSON.parse('null')],
  ['undefined', () => undefined],
  ['a number', () => 42],
  ['a string', () => 'FAB2'],
  ['a throwing Proxy', throwingProxy],
  ['a revoked Proxy', revokedProxy],
  ['a throwing st getter', () => throwingGetter('st')],
  ['a throwing coherenceScore getter', () => throwingGetter('coherenceScore')],
  ['a throwing st.metrics getter', () => ({ st: throwingGetter('metrics') })],
]

describe('a hostile core', () => {
  it.each(unreadable)('%s: every entry point survives, the sample is counted as invalid, the state is untouched', (_label, make) => {
    const fab = make()
    const hook = attach(fab as FabCoreLike, { env: ON, clock: () => 0 })
    if (hook === null) throw new Error('hook off')
    hook.tick()
    const before = JSON.stringify({ ...hook.tracker.toJSON().state, invalidSamples: 0 })
    expect(hook.tick()).toBe(false)
    expect(hook.tick()).toBe(false)
    expect(hook.tracker.invalidSamples).toBe(3)
    expect(JSON.stringify({ ...hook.tracker.toJSON().state, invalidSamples: 0 })).toBe(before)
    expect(hook.tracker.ticks).toBe(0)
    const tracker = new StabilityTracker({ clock: () => 0 })
    expect(maybeTick(fab as FabCoreLike, tracker, { env: ON })?.invalidSamples).toBe(1)
    const hysteresis = new Hysteresis({ clock: () => 0 })
    // The tracker maybeTick just fed is this core's, when the core is an object to remember it by.
    expect(maybeHyst(fab as FabCoreLike, { hysteresis, env: ON })).toBe(typeof fab === 'object' && fab !== null ? 'FAB2' : null)
    expect(maybeHyst(fab as FabCoreLike, { hysteresis, metrics: { recommendedMode: 'FAB1' }, env: ON })).toBe('FAB2')
    expect(hysteresis.getMetrics().invalidUpdates).toBe(0)
    const core = fab as FabCoreLike
    expect([extractFabScore(core), detectDegradation(core), readTick(core)]).toEqual([Number.NaN, false, undefined])
  })

  it('a window of a registry counts it in that window tracker (what the exporter exports as invalid samples)', () => {
    const windows = new StabilityWindows({ clock: () => 0 })
    const hook = attach(null, { env: ON, windows, windowId: 'stream' })
    if (hook === null) throw new Error('hook off')
    hook.tick()
    hook.tick()
    expect(windows.get('stream')?.tracker.invalidSamples).toBe(2)
    expect(windows.get('stream')?.tracker.ticks).toBe(0)
  })

  it('a NaN tick never freezes maybeHyst; a fractional tick counter ticks with the default interval', () => {
    const hysteresis = new Hysteresis({ dwellTicks: 1, rateLimitTicks: 0, clock: () => 0 })
    const metrics = { recommendedMode: 'FAB1' as const }
    expect(maybeHyst({}, { hysteresis, metrics, tick: Number.NaN, env: ON })).toBe('FAB1')
    expect(maybeHyst({}, { hysteresis, metrics: { recommendedMode: 'FAB2' }, tick: Number.NaN, env: ON })).toBe('FAB2')
    expect(maybeHyst({ currentTick: Number.POSITIVE_INFINITY }, { hysteresis, metrics, env: ON })).toBe('FAB1')
    // Every update was accepted: ticks 0, 1, 2.
    expect(hysteresis.getMetrics()).toMatchObject({ invalidUpdates: 0, switchCount: 3, lastSwitchTick: 2 })
    // A counter that goes back (a core restarted) continues from the last tick fed.
    expect(maybeHyst({ current_tick: 0 }, { hysteresis, metrics: { recommendedMode: 'FAB2' }, env: ON })).toBe('FAB2')
    expect(hysteresis.getMetrics()).toMatchObject({ invalidUpdates: 0, lastSwitchTick: 3 })
    const tracker = new StabilityTracker({ clock: () => 0 })
    expect(maybeTick({ current_tick: 2.5 }, tracker, { env: ON })).not.toBeNull()
    expect(maybeTick({ current_tick: 3.5 }, tracker, { env: ON, tickInterval: 2 })).toBeNull()
    expect(maybeTick({ current_tick: Number.NaN }, tracker, { env: ON, tickInterval: 2 })).not.toBeNull()
    expect(tracker.ticks).toBe(2)
  })

  /** A core as data: a plain object, one no field can be read from, or one whose answers change on every read. */
  const field = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.double(),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.string({ maxLength: 3 }),
    fc.boolean(),
    fc.constantFrom('FAB0', 'FAB1', 'FAB2', 'FAB9'),
    fc.constant({}),
  )
  const plain = fc.record(
    {
      st: fc.oneof(fc.constant(null), fc.record({ metrics: fc.oneof(fc.constant(null), fc.record({ stress: field }, { requiredKeys: [] })) }, { requiredKeys: [] })),
      coherenceScore: field,
      coherence_score: field,
      qualityScore: field,
      quality_score: field,
      degraded: field,
      mode: field,
      prevMode: field,
      _prev_mode: field,
      currentTick: field,
    },
    { requiredKeys: [] },
  )
  const hostileCore = fc.oneof(
    { arbitrary: plain.map((data) => ({ kind: 'data' as const, data })), weight: 4 },
    { arbitrary: fc.constantFrom(...unreadable.map(([label]) => label)).map((label) => ({ kind: 'unreadable' as const, label })), weight: 2 },
    { arbitrary: fc.array(field, { minLength: 1, maxLength: 8 }).map((answers) => ({ kind: 'lying' as const, answers })), weight: 1 },
  )

  function build(c: { kind: string; data?: object; label?: string; answers?: unknown[] }): unknown {
    if (c.kind === 'data') return c.data
    if (c.kind === 'unreadable') return (unreadable.find(([label]) => label === c.label) as [string, () => unknown])[1]()
    let i = 0
    const answers = c.answers as unknown[]
    // Answers something else on every read, objects included: a core that lies.
    return new Proxy({}, { get: () => answers[i++ % answers.length] })
  }

  it('random hostile cores never throw and never corrupt state: the tracker equals one fed the readable samples (property)', () => {
    fc.assert(
      fc.property(fc.array(hostileCore, { maxLength: 60 }), fc.boolean(), (cores, viaRegistry) => {
        const windows = new StabilityWindows({ clock: () => 0 })
        const shared = new StabilityTracker({ clock: () => 0 })
        const oracle = new StabilityTracker({ clock: () => 0 })
        let lied = false
        for (const c of cores) {
          const fab = build(c) as FabCoreLike
          // A new hook for each core, all feeding the same tracker (or registry window).
          const hook = viaRegistry ? attach(fab, { env: ON, windows, windowId: 'w' }) : attach(fab, { env: ON, tracker: shared })
          if (hook === null) throw new Error('hook off')
          const used = hook.tick()
          if (c.kind === 'data') {
            const data = c.data as FabCoreLike
            expect(used).toBe(oracle.tick(extractFabScore(data), detectDegradation(data)))
          } else if (c.kind === 'unreadable') {
            expect(used).toBe(false)
            oracle.tick(Number.NaN)
          } else lied = true
          const m = hook.tracker.getMetrics()
          for (const value of Object.values(m)) if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true)
          expect(m.stabilityScoreEma).toBeGreaterThanOrEqual(0)
          expect(m.stabilityScoreEma).toBeLessThanOrEqual(1)
          // After a lying core the exact state is unknowable (it depends on which answer each read got); before, it is the oracle's.
          if (!lied) expect(m).toEqual(oracle.getMetrics())
        }
      }),
      { numRuns: 200 },
    )
  })
})

describe('two installed copies of @auris/stability-core', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auris-core-copy-'))
  cpSync(new URL('../../stability-core/dist', import.meta.url), join(dir, 'dist'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@auris/stability-core', type: 'module' }))
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('attach feeds a registry, a tracker and maybeHyst a filter made by the other copy', async () => {
    const other = (await import(pathToFileURL(join(dir, 'dist/index.js')).href)) as typeof core
    const windows = new other.StabilityWindows({ clock: () => 0 })
    expect(windows instanceof StabilityWindows).toBe(false)
    const fab = { coherenceScore: 0.9, degraded: false }
    const hook = attach(fab, { env: ON, windows, windowId: 'global' })
    if (hook === null) throw new Error('hook off')
    hook.tick()
    fab.degraded = true
    hook.tick()
    expect(windows.get('global')?.tracker.ticks).toBe(2)
    expect(windows.get('global')?.tracker.degradationCount).toBe(1)
    const tracker = new other.StabilityTracker({ clock: () => 0 })
    expect(attach(fab, { env: ON, tracker })?.tick()).toBe(true)
    expect(maybeTick(fab, tracker, { env: ON })?.ticks).toBe(2)
    const filter = new other.Hysteresis({ dwellTicks: 0, rateLimitTicks: 0, clock: () => 0 })
    expect(maybeHyst(fab, { hysteresis: filter, metrics: { recommendedMode: 'FAB1' }, env: ON })).toBe('FAB1')
  })

  it('refuses what is not a registry, a tracker or a filter, with a RangeError naming the option', () => {
    expect(() => attach({}, { env: ON, windows: JSON.parse('{}') as StabilityWindows })).toThrow(/attach: option "windows" must be a StabilityWindows registry; got an object/)
    expect(() => attach({}, { env: ON, tracker: new Hysteresis() as unknown as StabilityTracker })).toThrow(/option "tracker" must be a StabilityTracker/)
    expect(() => maybeHyst({}, { hysteresis: new StabilityTracker() as unknown as Hysteresis, env: ON })).toThrow(/option "hysteresis" must be a Hysteresis filter/)
    expect(attachHysteresis(null, { env: ON })).toBeInstanceOf(Hysteresis)
  })
})
