import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '@auris/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import type { ServeOptions } from './args.js'
import { startProbeServer, type ProbeServer, type ProbeState } from './serve.js'
import { TEST_SERVE_OPTIONS } from './testing/serve-options.js'
import { cyclePhase } from './simulation.js'

/** The probe's own state, polled until `ready` holds (CI's two cores may run timers late). */
async function stateWhen(url: string, ready: (s: ProbeState) => boolean, timeoutMs = 20_000): Promise<ProbeState> {
  return eventually('probe state', async () => {
    const s = (await (await fetch(`${url}/probe/state`)).json()) as ProbeState
    return ready(s) ? s : undefined
  }, timeoutMs, 10)
}

const OPTIONS: ServeOptions = TEST_SERVE_OPTIONS

describe('probe serve', () => {
  let server: ProbeServer | undefined
  const saved = process.env.AURIS_METRICS_EXP
  afterEach(async () => {
    await server?.close()
    server = undefined
    if (saved === undefined) delete process.env.AURIS_METRICS_EXP
    else process.env.AURIS_METRICS_EXP = saved
  })

  it('ticks on its own and serves metrics, health and its own state', async () => {
    process.env.AURIS_METRICS_EXP = 'on'
    const lines: string[] = []
    server = await startProbeServer(OPTIONS, (line) => lines.push(line))
    expect(lines[0]).toMatch(/^auris-probe: serving http:\/\/127\.0\.0\.1:\d+\/metrics\/exp/)
    await stateWhen(server.url, (s) => s.ticks > 2)
    // Paused, so the figures below cannot move on while they are read.
    const state = (await (await fetch(`${server.url}/probe/pause`, { method: 'POST' })).json()) as ProbeState
    expect(state.ticks).toBeGreaterThan(2)
    expect(state.windows).toBe(2)
    // Schedule 1,2 of every 100-tick period: two degradations per window in the first period.
    expect(state.injected).toEqual({ global: 2, total: 4 })
    expect(state.global.totalDegradations).toBe(2)
    expect(state.global.hysteresis).not.toBeNull()
    const text = await (await fetch(`${server.url}/metrics/exp`)).text()
    expect(text).toMatch(/^atlas_degradation_count_total\{window_id="window-2"\} 2$/m)
    expect(await (await fetch(`${server.url}/metrics/exp/health`)).json()).toMatchObject({ status: 'enabled' })
  })

  it('degrades every N ticks with --degrade-every, the entry of its worker slot, and says which worker it is', async () => {
    process.env.AURIS_METRICS_EXP = 'on'
    // Slot 5 of the list 0,3 (repeated): every 3 ticks.
    server = await startProbeServer({ ...OPTIONS, scenario: 'every', schedule: null, degradeEvery: [0, 3], worker: 5 })
    await stateWhen(server.url, (s) => s.ticks >= 10)
    const state = (await (await fetch(`${server.url}/probe/pause`, { method: 'POST' })).json()) as ProbeState
    expect(state.injected.global).toBe(Math.floor(state.ticks / 3))
    expect(state.worker).toEqual({ slot: 5, pid: process.pid })
  })

  it('serves 503 while metrics are off', async () => {
    process.env.AURIS_METRICS_EXP = 'off'
    server = await startProbeServer({ ...OPTIONS, metrics: false, scenario: 'random', schedule: null, degradeProbability: 0.5 })
    expect((await fetch(`${server.url}/metrics/exp`)).status).toBe(503)
  })

  it('ticks at full speed, pauses on request, and reports the event-loop delay', async () => {
    process.env.AURIS_METRICS_EXP = 'on'
    server = await startProbeServer({ ...OPTIONS, tickMs: 0, scenario: 'random', schedule: null, degradeProbability: 0.01 })
    await stateWhen(server.url, (s) => s.ticks > 1000)
    const paused = (await (await fetch(`${server.url}/probe/pause`, { method: 'POST' })).json()) as ProbeState
    expect(paused.paused).toBe(true)
    expect(paused.ticks).toBeGreaterThan(1000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const later = (await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState
    expect(later.ticks).toBe(paused.ticks)
    expect(later.eventLoopDelayMs.p99).toBeGreaterThan(0)
    const text = await (await fetch(`${server.url}/metrics/exp`)).text()
    const counted = [...text.matchAll(/^atlas_degradation_count_total\{window_id="[^"]+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
    expect(counted).toBe(later.injected.total)
  })

  it('restores its windows from a state file, and starts fresh from a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auris-probe-state-'))
    const stateFile = join(dir, 'state.json')
    try {
      const lines: string[] = []
      server = await startProbeServer({ ...OPTIONS, stateFile, snapshotMs: 20 }, (l) => lines.push(l))
      expect(lines[0]).toMatch(/starting fresh: snapshot file .* does not exist/)
      // Two degradations by tick 2; close() writes the last snapshot.
      await stateWhen(server.url, (s) => s.global.totalDegradations >= 2)
      await server.close()
      const again: string[] = []
      server = await startProbeServer({ ...OPTIONS, stateFile }, (l) => again.push(l))
      expect(again[0]).toMatch(/restored 2 window\(s\) from/)
      const state = (await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState
      expect(state.global.totalDegradations).toBeGreaterThanOrEqual(2)
      await server.close()
      writeFileSync(stateFile, '{"format":"auris.snapshot-file"')
      const fresh: string[] = []
      server = await startProbeServer({ ...OPTIONS, stateFile }, (l) => fresh.push(l))
      expect(fresh[0]).toMatch(/starting fresh: snapshot file .* is not valid JSON.*; the refused file is kept as .*state\.json\.rejected-/)
      await server.close()
      server = undefined
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('closes once, however often asked', async () => {
    server = await startProbeServer(OPTIONS)
    const closing = server.close()
    expect(server.close()).toBe(closing)
    await closing
    await expect(fetch(`${server.url}/metrics/exp`)).rejects.toThrow()
  })

  it('serves the live page at / and the history since a point', async () => {
    process.env.AURIS_METRICS_EXP = 'on'
    server = await startProbeServer({ ...OPTIONS, windows: 1 })
    const page = await fetch(`${server.url}/`)
    expect(page.headers.get('content-type')).toBe('text/html; charset=UTF-8')
    const html = await page.text()
    expect(html).toContain('const chartsSvg = function chartsSvg(input)')
    expect(html).toContain('"fab2MinEma":0.8,"fab1MinEma":0.5')
    const all = await stateWhen(server.url, (s) => s.history.length >= 3)
    expect(all.history.length).toBeGreaterThanOrEqual(3)
    expect(all.history[0]).toMatchObject({ x: 0, recommended: 2, effective: 2 })
    const since = all.history[1]?.x ?? 0
    const newer = (await (await fetch(`${server.url}/probe/state?since=${String(since)}`)).json()) as ProbeState
    expect(newer.history.every((p) => p.x > since)).toBe(true)
    expect(newer.history.length).toBeGreaterThanOrEqual(all.history.length - 2)
    const bad = await fetch(`${server.url}/probe/state?since=soon`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: 'since must be a number of seconds' })
  })

  it('runs the default story at full speed: a whole cycle injects about 24,000 x 0.005 degradations', async () => {
    process.env.AURIS_METRICS_EXP = 'on'
    server = await startProbeServer({ ...OPTIONS, windows: 1, tickMs: 0, scenario: 'cycle', schedule: null })
    await stateWhen(server.url, (s) => s.ticks >= 48_000, 25_000)
    const state = (await (await fetch(`${server.url}/probe/pause`, { method: 'POST' })).json()) as ProbeState
    expect(state.scenario).toBe('cycle')
    const cycles = Math.floor(state.ticks / 48_000)
    expect(cycles).toBeGreaterThanOrEqual(1)
    expect(state.phase).toBe(cyclePhase(state.ticks))
    // Binomial(24,000, 0.005) per cycle: mean 120, sd 11; within 6 sd.
    expect(state.injected.global).toBeGreaterThanOrEqual(cycles * 120 - 66)
    expect(state.injected.global).toBeLessThanOrEqual((cycles + 1) * 120 + 66)
  })
})
