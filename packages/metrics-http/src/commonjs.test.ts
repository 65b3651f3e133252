import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The routes in a CommonJS application, as a user runs one: a `.cjs` program, run by node in a
 * process of its own, whose `require('hono')` loads hono's CommonJS build while the routes (an ES
 * module, loaded with `require()`) import hono's ES module build: two copies of hono, one app.
 * It serves on 127.0.0.1 with @hono/node-server; the requests below are real HTTP. Needs the
 * built package (`pnpm build`; `pnpm test` builds first): the program requires it by name.
 */

const TEXT = 'text/plain; version=0.0.4; charset=utf-8'
const EXPOSITION = '# TYPE cjs_sample gauge\ncjs_sample 42\n'
const TOKEN = 'cjs-scrape-token-41'
/** Longer than the default compression threshold (1024 bytes). */
const BIG = `# TYPE cjs_big gauge\n${Array.from({ length: 100 }, (_, i) => `cjs_big{i="${String(i)}"} ${String(i)}\n`).join('')}`

const PROGRAM = `'use strict'
const { Hono } = require('hono')
const { serve } = require('@hono/node-server')
const { metricsRoutes } = require('@auris/metrics-http')

const TEXT = ${JSON.stringify(TEXT)}
const source = (text) => ({ contentType: TEXT, metrics: () => text })
const app = new Hono()
app.route('/metrics/exp', metricsRoutes({ sources: source(${JSON.stringify(EXPOSITION)}) }))
app.route('/private/metrics', metricsRoutes({ sources: source(${JSON.stringify(EXPOSITION)}), auth: { bearerToken: process.env.METRICS_TOKEN } }))
app.route('/:tenant/health', metricsRoutes({ sources: source(${JSON.stringify(EXPOSITION)}), auth: { bearerToken: process.env.METRICS_TOKEN }, publicHealth: true }))
app.route('/disabled/metrics', metricsRoutes({ sources: source(${JSON.stringify(EXPOSITION)}), enabled: false }))
app.route('/big', metricsRoutes({ sources: source(${JSON.stringify(BIG)}) }))
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  console.log(JSON.stringify({ port: info.port, hono: require.resolve('hono'), routes: require.resolve('@auris/metrics-http') }))
})
`

interface Started {
  port: number
  hono: string
  routes: string
}

const packageDir = fileURLToPath(new URL('..', import.meta.url))
let dir: string
let child: ChildProcess
let started: Started

beforeAll(async () => {
  // Inside the package, so that require() resolves hono, @hono/node-server and the package itself as an app's would.
  dir = mkdtempSync(join(packageDir, '.commonjs-test-'))
  writeFileSync(join(dir, 'app.cjs'), PROGRAM)
  child = spawn(process.execPath, ['app.cjs'], { cwd: dir, env: { ...process.env, AURIS_METRICS_EXP: 'on', METRICS_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] })
  started = await new Promise<Started>((resolve, reject) => {
    let out = ''
    let err = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n')[0]
      if (out.includes('\n') && line !== undefined) resolve(JSON.parse(line) as Started)
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.on('exit', (code) => {
      reject(new Error(`the CommonJS app exited (${String(code)}): ${err}`))
    })
  })
}, 20_000)

afterAll(() => {
  child.kill()
  rmSync(dir, { recursive: true, force: true })
})

async function get(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(`http://127.0.0.1:${String(started.port)}${path}`, init)
  return { status: res.status, headers: res.headers, body: await res.text() }
}

const bearer = { Authorization: `Bearer ${TOKEN}` }

describe('in a CommonJS app (hono required as CommonJS, the routes importing hono as an ES module)', () => {
  it('really runs two builds of hono', () => {
    expect(started.hono).toMatch(/[/\\]hono[/\\]dist[/\\]cjs[/\\]index\.js$/)
    expect(started.routes).toMatch(/[/\\]metrics-http[/\\]dist[/\\]index\.js$/)
  })

  it('serves GET and HEAD on /metrics/exp, with or without the trailing slash, and 405 to the other methods', async () => {
    for (const path of ['/metrics/exp', '/metrics/exp/']) {
      const res = await get(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('Content-Type')).toBe(TEXT)
      expect(res.headers.get('Cache-Control')).toBe('no-store')
      expect(res.body).toBe(EXPOSITION)
    }
    const head = await get('/metrics/exp', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('Content-Length')).toBe(String(EXPOSITION.length))
    expect(head.body).toBe('')
    const post = await get('/metrics/exp', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('Allow')).toBe('GET, HEAD')
    expect(post.body).toBe('Method Not Allowed\n')
  })

  it('serves /metrics/exp/health naming the mount', async () => {
    for (const path of ['/metrics/exp/health', '/metrics/exp/health/']) {
      const res = await get(path)
      expect(res.status, path).toBe(200)
      expect(JSON.parse(res.body)).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'on', endpoint: '/metrics/exp' })
    }
    const off = await get('/disabled/metrics/health')
    expect(off.status).toBe(200)
    expect(JSON.parse(off.body)).toEqual({ status: 'disabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'on', endpoint: null })
  })

  it('answers 503 when the metrics are off, and 404 below the mount', async () => {
    const off = await get('/disabled/metrics')
    expect(off.status).toBe(503)
    expect(JSON.parse(off.body)).toEqual({ detail: 'Metrics disabled (set AURIS_METRICS_EXP=on to enable)' })
    const unknown = await get('/metrics/exp/other')
    expect(unknown.status).toBe(404)
  })

  it('with auth: 401 without the token or with a wrong one, the metrics and health with it', async () => {
    for (const path of ['/private/metrics', '/private/metrics/', '/private/metrics/health']) {
      for (const headers of [{}, { Authorization: 'Bearer wrong' }]) {
        const refused = await get(path, { headers })
        expect(refused.status, path).toBe(401)
        expect(refused.headers.get('WWW-Authenticate')).toBe('Bearer realm="metrics"')
        expect(refused.body).toBe('Unauthorized\n')
      }
    }
    const head = await get('/private/metrics', { method: 'HEAD' })
    expect(head.status).toBe(401)
    const metrics = await get('/private/metrics', { headers: bearer })
    expect(metrics.status).toBe(200)
    expect(metrics.body).toBe(EXPOSITION)
    const health = await get('/private/metrics/health', { headers: bearer })
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'on', endpoint: '/private/metrics' })
  })

  it('mounted at /:tenant/health with public health: the metrics stay behind the token, the health route is public', async () => {
    const refused = await get('/t1/health')
    expect(refused.status).toBe(401)
    expect(refused.body).toBe('Unauthorized\n')
    const metrics = await get('/t1/health', { headers: bearer })
    expect(metrics.status).toBe(200)
    expect(metrics.body).toBe(EXPOSITION)
    const health = await get('/t1/health/health')
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'on', endpoint: '/t1/health' })
  })

  it('compresses a long body for a scraper that accepts gzip', async () => {
    const res = await get('/big', { headers: { 'Accept-Encoding': 'gzip' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Encoding')).toBe('gzip')
    // fetch decompresses: the body is the exposition as rendered.
    expect(res.body).toBe(BIG)
  })
})
