import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventually, freePort, start, type Child } from '@auris/test-support'
import { afterAll, describe, expect, it } from 'vitest'
import { record } from './figures.js'

/**
 * `probe serve --state-file` killed with SIGKILL and restored, under a real
 * Prometheus (Debian `prometheus`) scraping it every second. Periodic
 * snapshots are 5 s apart, so without the scrape-time snapshot the restored
 * counters would be older than what Prometheus last saw (a counter reset,
 * and `increase()` several times the truth across the restart).
 */

const cli = fileURLToPath(new URL('../../apps/probe/dist/cli.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'auris-restart-counters-'))
const children: Child[] = []
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()))
  rmSync(dir, { recursive: true, force: true })
})

interface State {
  ticks: number
  injected: { global: number }
  global: { totalDegradations: number }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('8b. restarts under a real Prometheus: counters never go back', () => {
  it('SIGKILL + restore from the state file under a 1 s scrape: resets() = 0, and increase() across the restart within the events that happened', async () => {
    const probePort = await freePort()
    const promPort = await freePort()
    const probeUrl = `http://127.0.0.1:${String(probePort)}`
    const promUrl = `http://127.0.0.1:${String(promPort)}`
    const stateFile = join(dir, 'state.json')
    // About 2 degradations a second per window; periodic snapshots every 5 s.
    const args = [cli, 'serve', '--port', String(probePort), '--tick-ms', '10', '--windows', '2', '--degrade-prob', '0.02', '--seed', '7', '--state-file', stateFile, '--snapshot-ms', '5000']
    const first = start(process.execPath, args)
    children.push(first)
    await eventually('the probe to serve', async () => ((await fetch(`${probeUrl}/metrics/exp/health`)).ok ? true : undefined))
    writeFileSync(
      join(dir, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        scrape_configs: [{ job_name: 'probe', metrics_path: '/metrics/exp', static_configs: [{ targets: [`127.0.0.1:${String(probePort)}`] }] }],
      }),
    )
    const prometheus = start('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${String(promPort)}`, '--log.level=warn'])
    children.push(prometheus)
    const query = async (path: string): Promise<{ metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]> => {
      const body = (await (await fetch(`${promUrl}${path}`)).json()) as { status: string; data: { result: never[] }; error?: string }
      if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? ''}`)
      return body.data.result
    }
    await eventually('Prometheus scraping the probe', async () => ((await query(`/api/v1/query?query=${encodeURIComponent('up{job="probe"} == 1')}`)).length === 1 ? true : undefined), 60_000)

    // The true event timeline (degradations of window global), from the probe's own view every 100 ms.
    const timeline: { at: number; total: number }[] = []
    const poll = async (offset: number): Promise<State> => {
      const s = (await (await fetch(`${probeUrl}/probe/state`)).json()) as State
      timeline.push({ at: Date.now(), total: offset + s.global.totalDegradations })
      return s
    }
    for (const end = Date.now() + 12_000; Date.now() < end; ) {
      await poll(0)
      await sleep(100)
    }
    const beforeKill = await poll(0)
    first.process.kill('SIGKILL')
    const killedAt = Date.now()
    await first.exited()

    const second = start(process.execPath, args)
    children.push(second)
    await eventually('the restored probe to serve', async () => ((await fetch(`${probeUrl}/metrics/exp/health`)).ok ? true : undefined))
    expect(second.output()).toMatch(/auris-probe: restored 2 window\(s\) from /)
    const restartState = (await (await fetch(`${probeUrl}/probe/state`)).json()) as State
    // What the file held for global: the restored count, before any new event.
    const restored = restartState.global.totalDegradations - restartState.injected.global
    // Events that happened before the kill but were not in the file: lost (between 0 and a few, the last poll being ms before the kill).
    const lost = beforeKill.global.totalDegradations - restored
    // The second process's count continues from `restored`; on the true timeline it continues from the kill.
    const offset = beforeKill.global.totalDegradations - restored
    for (const end = Date.now() + 12_000; Date.now() < end; ) {
      await poll(offset)
      await sleep(100)
    }
    await fetch(`${probeUrl}/probe/pause`, { method: 'POST' })
    const final = (await poll(offset)).global.totalDegradations
    await sleep(3000)
    const evaluatedAt = Date.now() / 1000

    // No counter series of any window was ever read as reset.
    const names = ((await (await fetch(`${promUrl}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data.filter((n) => /^atlas_.+_total$/.test(n))
    expect(names).toHaveLength(7)
    let counters = 0
    for (const name of names) {
      const resets = await query(`/api/v1/query?time=${String(evaluatedAt)}&query=${encodeURIComponent(`resets(${name}[2m])`)}`)
      for (const r of resets) expect(Number(r.value?.[1]), `${name} ${JSON.stringify(r.metric)}`).toBe(0)
      counters += resets.length
    }
    expect(counters).toBeGreaterThanOrEqual(10)

    // Every value Prometheus stored before the kill is at most the restored one: nothing exported was lost.
    const [series] = await query(`/api/v1/query?time=${String(evaluatedAt)}&query=${encodeURIComponent('atlas_degradation_count_total{window_id="global"}[2m]')}`)
    const samples = (series?.values ?? []).map(([t, v]) => ({ at: t * 1000, value: Number(v) }))
    const before = samples.filter((s) => s.at < killedAt)
    const after = samples.filter((s) => s.at > killedAt)
    expect(before.length).toBeGreaterThanOrEqual(8)
    expect(after.length).toBeGreaterThanOrEqual(8)
    const maxBefore = Math.max(...before.map((s) => s.value))
    expect(restored).toBeGreaterThanOrEqual(maxBefore)
    expect(Math.min(...after.map((s) => s.value))).toBeGreaterThanOrEqual(maxBefore)
    expect(lost).toBeGreaterThanOrEqual(0)
    expect(samples.at(-1)?.value).toBe(final)

    // increase(…[25s]) across the restart, each second: never above the events that really happened in its
    // window (from the timeline; extrapolation to the window's edges, more when a loaded machine misses a scrape,
    // allows 30 %: a counter reset would add the whole restored count, about as much again), and at least the
    // events of the window's inner part minus the lost ones.
    const range = await query(
      `/api/v1/query_range?start=${String(killedAt / 1000 - 5)}&end=${String(killedAt / 1000 + 20)}&step=1&query=${encodeURIComponent('increase(atlas_degradation_count_total{window_id="global"}[25s])')}`,
    )
    const points = (range[0]?.values ?? []).map(([t, v]) => ({ at: t * 1000, value: Number(v) }))
    expect(points.length).toBeGreaterThanOrEqual(20)
    const trueAt = (at: number, side: 'before' | 'after'): number => {
      const polls = side === 'before' ? timeline.filter((p) => p.at <= at) : timeline.filter((p) => p.at >= at)
      const p = side === 'before' ? polls.at(-1) : polls[0]
      return p?.total ?? (side === 'before' ? 0 : (timeline.at(-1)?.total ?? 0))
    }
    let worst = 0
    for (const p of points) {
      const upper = trueAt(p.at + 200, 'after') - trueAt(p.at - 25_000 - 1200, 'before')
      const lower = trueAt(p.at - 2500, 'before') - trueAt(p.at - 25_000 + 2500, 'after') - lost
      expect(p.value, `increase at ${new Date(p.at).toISOString()}: true events at most ${String(upper)}`).toBeLessThanOrEqual(upper * 1.3 + 1)
      expect(p.value, `increase at ${new Date(p.at).toISOString()}: true events at least ${String(lower)}`).toBeGreaterThanOrEqual(lower - 0.5)
      if (upper > 0) worst = Math.max(worst, p.value / upper)
    }
    record('restarts-under-prometheus', {
      scrapeIntervalS: 1,
      snapshotMs: 5000,
      killedAfterTicks: beforeKill.ticks,
      restoredCount: restored,
      maxScrapedBeforeKill: maxBefore,
      lostSinceLastSnapshot: lost,
      counterSeries: counters,
      resets: 0,
      worstIncreaseOverTruth: Math.round(worst * 100) / 100,
    })
    expect(await second.stop()).toBe(0)
  }, 150_000)
})
