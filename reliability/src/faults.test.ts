import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { serve, type ServerType } from '@hono/node-server'
import { metricsRoutes, type MetricsSource } from '@auris/metrics-http'
import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows } from '@auris/stability-core'
import { eventually, freePort, start } from '@auris/test-support'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { record } from './figures.js'

const TEXT = 'text/plain; version=0.0.4; charset=utf-8'
let server: ServerType | undefined

async function listen(route: Hono): Promise<string> {
  const app = new Hono()
  app.route('/metrics/exp', route)
  const port = await freePort()
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => {
      resolve(s)
    })
  })
  return `http://127.0.0.1:${String(port)}`
}

afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server === undefined) resolve()
    else server.close(() => { resolve(); })
    ;(server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.()
  })
  server = undefined
})

describe('7. faults', () => {
  it('a source that throws, hangs or returns garbage: a bounded, stack-free error, and the next scrape works', async () => {
    let mode: 'ok' | 'throw' | 'hang' | 'garbage' = 'ok'
    const source: MetricsSource = {
      contentType: TEXT,
      metrics: () => {
        if (mode === 'throw') throw new Error('database at /srv/fab/secret.sock refused')
        if (mode === 'hang') return new Promise<string>(() => undefined)
        if (mode === 'garbage') return 42 as unknown as string
        return 'ok_metric 1\n'
      },
    }
    const timeoutMs = 300
    const url = await listen(metricsRoutes({ sources: source, enabled: true, timeoutMs, onError: () => undefined }))
    const results: Record<string, { status: number; ms: number; body: string }> = {}
    for (const m of ['throw', 'hang', 'garbage', 'ok'] as const) {
      mode = m
      const t0 = performance.now()
      const res = await fetch(`${url}/metrics/exp`)
      results[m] = { status: res.status, ms: Math.round(performance.now() - t0), body: await res.text() }
    }
    expect(results.throw?.status).toBe(500)
    expect(results.hang?.status).toBe(504)
    expect(results.hang?.ms).toBeGreaterThanOrEqual(timeoutMs - 5)
    expect(results.hang?.ms).toBeLessThan(timeoutMs + 1000)
    expect(results.garbage?.status).toBe(500)
    expect(results.ok).toMatchObject({ status: 200, body: 'ok_metric 1\n' })
    for (const r of Object.values(results)) {
      expect(r.body).not.toMatch(/secret|\.sock|at \w+ \(|\/srv\//)
    }
    record('faults-sources', Object.fromEntries(Object.entries(results).map(([k, v]) => [k, `${String(v.status)} in ${String(v.ms)} ms`])))
  })

  it('clients that disconnect mid-response do not hurt the server', async () => {
    const windows = new StabilityWindows({ maxWindows: 5000 })
    for (let i = 0; i < 5000; i++) windows.tick(`window-${String(i)}`, 0.5, i % 3 === 0)
    const exporter = createStabilityExporter({ maxWindows: 5000 })
    exporter.track(windows)
    const url = await listen(metricsRoutes({ sources: exporter, enabled: true }))
    const port = Number(new URL(url).port)
    let aborted = 0
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write('GET /metrics/exp HTTP/1.1\r\nHost: x\r\n\r\n')
        })
        socket.once('data', () => {
          aborted++
          socket.destroy()
          resolve()
        })
        socket.once('error', () => { resolve(); })
      })
    }
    const res = await fetch(`${url}/metrics/exp`)
    expect(res.status).toBe(200)
    expect((await res.text()).length).toBeGreaterThan(1_000_000)
    record('faults-disconnects', { clientsDisconnectedMidResponse: aborted, bodyBytes: '>1 MB', serverKeptServing: true })
  })

  it('SIGTERM during a scrape: the scrape finishes, then the process exits 0', async () => {
    const port = await freePort()
    const fixture = fileURLToPath(new URL('../fixtures/slow-server.mjs', import.meta.url))
    const child = start(process.execPath, [fixture], { env: { ...process.env, PORT: String(port), SLOW_MS: '600' } })
    await eventually('the slow server', () => Promise.resolve(child.output().includes('ready') ? true : undefined))
    const t0 = performance.now()
    const scrape = fetch(`http://127.0.0.1:${String(port)}/metrics/exp`)
    await eventually('the scrape to be in flight', () => Promise.resolve(child.output().includes('scrape started') ? true : undefined), 30_000, 5)
    child.process.kill('SIGTERM')
    const res = await scrape
    const body = await res.text()
    // Wait for the exit the SIGTERM causes; stop() would send another signal.
    const code = await Promise.race([child.exited(), new Promise<'hung'>((resolve) => setTimeout(() => { resolve('hung'); }, 10_000))])
    if (code === 'hung') await child.stop()
    expect(child.output()).toContain('SIGTERM')
    expect(res.status).toBe(200)
    expect(body).toBe('# TYPE slow_metric gauge\nslow_metric 1\n')
    expect(code).toBe(0)
    record('faults-sigterm', { scrapeMs: Math.round(performance.now() - t0), status: res.status, exitCode: code })
  })
})
