import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hysteresis } from '@auris/stability-core'
import { restoreWindowsFile } from '@auris/stability-core/node'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startProbeServer, type ProbeServer, type ProbeState } from './serve.js'
import { TEST_SERVE_OPTIONS } from './testing/serve-options.js'

let dir = ''
let server: ProbeServer | undefined
// The routes read the flag per request from process.env, which the CLI sets for the probe.
beforeEach(() => {
  vi.stubEnv('AURIS_METRICS_EXP', 'on')
})
afterEach(async () => {
  vi.unstubAllEnvs()
  await server?.close().catch(() => undefined)
  server = undefined
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  dir = ''
})

function counter(body: string, name: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{window_id="global"} `))
  if (line === undefined) throw new Error(`${name} not in the scrape`)
  return Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** The global window's counters in the state file as it is on disk now. */
async function onDisk(path: string): Promise<{ degradations: number; switches: number }> {
  const { windows, restored, problem } = await restoreWindowsFile(path, { keepRefused: false })
  if (!restored) throw new Error(`state file not restorable: ${problem ?? ''}`)
  const global = windows.get('global')
  return { degradations: global?.tracker.totalDegradations ?? -1, switches: (global?.hysteresis as Hysteresis).getMetrics().switchCount }
}

describe('serve --state-file: a scrape is answered only once the state file holds what it exports', () => {
  it('every counter a scrape returns is at most the one on disk right after, with periodic snapshots an hour apart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-persisted-scrape-'))
    const path = join(dir, 'state.json')
    // Two degradations per 100 ticks, a tick every 5 ms: about 4 events a second per window.
    server = await startProbeServer({ ...TEST_SERVE_OPTIONS, stateFile: path, snapshotMs: 3_600_000 })
    let last = 0
    for (let i = 0; i < 25; i++) {
      const openMetrics = i % 2 === 1
      const res = await fetch(`${server.url}/metrics/exp`, openMetrics ? { headers: { accept: 'application/openmetrics-text; version=1.0.0' } } : {})
      expect(res.status).toBe(200)
      const body = await res.text()
      const disk = await onDisk(path)
      const scraped = counter(body, 'atlas_degradation_count_total')
      expect(scraped, `scrape ${String(i)}`).toBeLessThanOrEqual(disk.degradations)
      expect(counter(body, 'atlas_hyst_switches_total'), `scrape ${String(i)}`).toBeLessThanOrEqual(disk.switches)
      last = scraped
      await new Promise((resolve) => setTimeout(resolve, 40))
    }
    // The probe did tick and degrade meanwhile: the comparison was not between zeros.
    expect(last).toBeGreaterThanOrEqual(4)
    const state = (await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState
    // One snapshot at start, then at most one per scrape (none when nothing ticked since the last).
    expect(state.stateFile?.written).toBeGreaterThanOrEqual(2)
    expect(state.stateFile?.written).toBeLessThanOrEqual(26)
    expect(state.stateFile?.failed).toBe(0)
  })

  it('paused (nothing ticks): scrapes write no snapshot', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-persisted-scrape-'))
    const path = join(dir, 'state.json')
    server = await startProbeServer({ ...TEST_SERVE_OPTIONS, stateFile: path, snapshotMs: 3_600_000 })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await fetch(`${server.url}/probe/pause`, { method: 'POST' })
    await (await fetch(`${server.url}/metrics/exp`)).text()
    const before = ((await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState).stateFile?.written ?? -1
    for (let i = 0; i < 5; i++) await (await fetch(`${server.url}/metrics/exp`)).text()
    const after = ((await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState).stateFile?.written
    expect(after).toBe(before)
  })

  it('a snapshot that cannot be written (the directory gone, as on a full or lost disk): the scrape answers 500, with no metric sent', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-persisted-scrape-'))
    const path = join(dir, 'state.json')
    server = await startProbeServer({ ...TEST_SERVE_OPTIONS, stateFile: path, snapshotMs: 3_600_000 })
    await new Promise((resolve) => setTimeout(resolve, 100))
    rmSync(dir, { recursive: true, force: true })
    const res = await fetch(`${server.url}/metrics/exp`)
    const body = await res.text()
    expect(res.status).toBe(500)
    expect(body).not.toContain('atlas_')
    const state = (await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState
    expect(state.stateFile?.failed).toBe(1)
  })
})
