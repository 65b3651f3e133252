import { serve, type ServerType } from '@hono/node-server'
import { metricsRoutes } from '@auris/metrics-http'
import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows } from '@auris/stability-core'
import { freePort } from '@auris/test-support'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { record } from './figures.js'

const TOKEN = 'k7Vq2Lp9Xz4Rt8Wm3Bn6Yc1Df5Gh0Js'
let server: ServerType
let url = ''

beforeAll(async () => {
  const windows = new StabilityWindows()
  windows.tick('global', 0.4, true)
  const exporter = createStabilityExporter()
  exporter.track(windows)
  const app = new Hono()
  app.route('/metrics/exp', metricsRoutes({ sources: exporter, enabled: true, auth: { bearerToken: TOKEN } }))
  app.route('/basic', metricsRoutes({ sources: exporter, enabled: true, auth: { username: 'prometheus', password: TOKEN } }))
  // Mounted where the path ends in /health, probe routes public: the metrics must still need the token.
  app.route('/ops/health', metricsRoutes({ sources: exporter, enabled: true, auth: { bearerToken: TOKEN }, publicHealth: true, readiness: { windows, tickMs: 100 } }))
  const port = await freePort()
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => {
      resolve(s)
    })
  })
  url = `http://127.0.0.1:${String(port)}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => { resolve(); }))
})

const CLASSES: [string, string | undefined][] = [
  ['no header', undefined],
  ['empty', ''],
  ['wrong, same length', `Bearer ${'x'.repeat(TOKEN.length)}`],
  ['wrong, one character off', `Bearer ${TOKEN.slice(0, -1)}X`],
  ['wrong, short', 'Bearer abc'],
  ['over-long (10 KB)', `Bearer ${'A'.repeat(10_240)}`],
  ['another scheme', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`],
]

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

describe('9. access', () => {
  it('wrong, empty and over-long credentials get 401, without the metrics, a stack or a path', async () => {
    for (const [label, header] of CLASSES) {
      const res = await fetch(`${url}/metrics/exp`, header === undefined ? {} : { headers: { Authorization: header } })
      const body = await res.text()
      expect(res.status, label).toBe(401)
      expect(res.headers.get('www-authenticate'), label).toBe('Bearer realm="metrics"')
      expect(body, label).not.toContain('atlas_')
      expect(body, label).not.toMatch(/at \w|\/[a-z]+\/|\.js/)
    }
    const basic = await fetch(`${url}/basic`, { headers: { Authorization: `Basic ${Buffer.from('prometheus:nope').toString('base64')}` } })
    expect(basic.status).toBe(401)
    const ok = await fetch(`${url}/metrics/exp`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('atlas_degradation_count_total{window_id="global"} 1')
  })

  it('serves no metrics byte without credentials on any path or method, over HTTP, wherever the routes are mounted', async () => {
    const metricsPaths = ['/metrics/exp', '/metrics/exp/', '/basic', '/basic/', '/ops/health', '/ops/health/', '/ops/health//', '/OPS/HEALTH', '/ops/health/%2E', '/ops/health/health/..']
    const probes = ['/ops/health/health', '/ops/health/health/', '/ops/health/ready', '/ops/health/live']
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']
    let requests = 0
    for (const path of [...metricsPaths, ...probes, '/metrics/exp/health', '/basic/health']) {
      for (const method of methods) {
        for (const header of [undefined, 'Bearer ', `Bearer ${TOKEN.slice(1)}`, 'Basic cHJvbWV0aGV1czo=']) {
          const res = await fetch(`${url}${path}`, { method, ...(header === undefined ? {} : { headers: { Authorization: header } }) })
          const body = await res.text()
          requests++
          expect(body, `${method} ${path}`).not.toContain('atlas_')
          expect(res.headers.get('content-type') ?? '', `${method} ${path}`).not.toContain('version=0.0.4')
          const publicProbe = probes.includes(path)
          if (!publicProbe && res.status !== 404) expect(res.status, `${method} ${path}`).toBe(401)
          if (publicProbe) expect(res.status, `${method} ${path}`).toBe(method === 'GET' || method === 'HEAD' ? 200 : 405)
        }
      }
    }
    expect(requests).toBe(16 * 7 * 4)
    const ok = await fetch(`${url}/ops/health`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('atlas_degradation_count_total{window_id="global"} 1')
  })

  it('refuses every kind of wrong credential in the same time, within noise', async () => {
    // Method: 600 requests per class, sent round-robin (so drift hits every class alike), one at a
    // time over one keep-alive connection; compare each refusal class's median latency with the
    // spread between two halves of the same class (odd vs even requests), the noise floor.
    const rounds = 600
    const times = new Map<string, number[]>(CLASSES.map(([label]) => [label, []]))
    for (let warm = 0; warm < 100; warm++) await (await fetch(`${url}/metrics/exp`)).text()
    for (let r = 0; r < rounds; r++) {
      for (const [label, header] of CLASSES) {
        const t0 = performance.now()
        const res = await fetch(`${url}/metrics/exp`, header === undefined ? {} : { headers: { Authorization: header } })
        await res.text()
        times.get(label)?.push(performance.now() - t0)
      }
    }
    const medians = Object.fromEntries([...times].map(([label, xs]) => [label, median(xs)]))
    const noise = Math.max(...[...times.values()].map((xs) => Math.abs(median(xs.filter((_, i) => i % 2 === 0)) - median(xs.filter((_, i) => i % 2 === 1)))))
    // The comparisons that would leak the token: same length vs one character off vs short.
    const secretDependent = ['wrong, same length', 'wrong, one character off', 'wrong, short'].map((l) => medians[l] as number)
    const spread = Math.max(...secretDependent) - Math.min(...secretDependent)
    // Over-long headers are refused with the same hashing work (the header is replaced by '' and still compared).
    const overLong = Math.abs((medians['over-long (10 KB)'] as number) - (medians['wrong, same length'] as number))
    expect(spread).toBeLessThan(Math.max(3 * noise, 0.05))
    record('access-timing', {
      requestsPerClass: rounds,
      medianMs: Object.fromEntries(Object.entries(medians).map(([k, v]) => [k, Number(v.toFixed(4))])),
      noiseFloorMs: Number(noise.toFixed(4)),
      spreadOfSecretDependentClassesMs: Number(spread.toFixed(4)),
      overLongVsSameLengthMs: Number(overLong.toFixed(4)),
    })
  })
})
