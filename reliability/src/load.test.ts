import { fileURLToPath } from 'node:url'
import { eventually, freePort, start } from '@auris/test-support'
import autocannon from 'autocannon'
import { describe, expect, it } from 'vitest'
import { record } from './figures.js'

const cli = fileURLToPath(new URL('../../apps/probe/dist/cli.js', import.meta.url))

interface State {
  ticks: number
  injected: { total: number }
  eventLoopDelayMs: { p50: number; p99: number; max: number }
}

describe('6. load', () => {
  it('64 connections for 30 s while the simulation ticks at full speed: no error, no lost or double count', async () => {
    const port = await freePort()
    const probe = start(process.execPath, [cli, 'serve', '--port', String(port), '--tick-ms', '0', '--windows', '10', '--degrade-prob', '0.001', '--seed', '7'])
    const url = `http://127.0.0.1:${String(port)}`
    try {
      await eventually('the probe', async () => ((await fetch(`${url}/metrics/exp/health`)).ok ? true : undefined))
      const result = await autocannon({ url: `${url}/metrics/exp`, connections: 64, duration: 30 })
      const paused = (await (await fetch(`${url}/probe/pause`, { method: 'POST' })).json()) as State
      const text = await (await fetch(`${url}/metrics/exp`)).text()
      const state = (await (await fetch(`${url}/probe/state`)).json()) as State
      const counted = [...text.matchAll(/^atlas_degradation_count_total\{window_id="[^"]+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
      expect(result.errors).toBe(0)
      expect(result.timeouts).toBe(0)
      expect(result.non2xx).toBe(0)
      expect(result.requests.total).toBeGreaterThan(1000)
      expect(state.ticks).toBe(paused.ticks)
      expect(state.injected.total).toBeGreaterThan(0)
      expect(counted).toBe(state.injected.total)
      record('load', {
        connections: 64,
        seconds: 30,
        requests: result.requests.total,
        requestsPerSecond: Math.round(result.requests.average),
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors,
        ticksDuringLoad: state.ticks,
        degradationsInjected: state.injected.total,
        degradationsCounted: counted,
        eventLoopDelayP99Ms: Number(state.eventLoopDelayMs.p99.toFixed(2)),
        eventLoopDelayMaxMs: Number(state.eventLoopDelayMs.max.toFixed(2)),
      })
    } finally {
      expect(await probe.stop()).toBe(0)
    }
  })
})
