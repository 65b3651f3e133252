import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'

/**
 * Each runtime starts the fixture server (the same code the metrics-http
 * README shows), which mounts metricsRoutes with a window registry and an
 * exporter and ticks two degradations; the test scrapes it over real HTTP.
 * A runtime that cannot start fails the test, it never skips.
 */

const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = join(root, 'fixtures')
const runtimes = join(root, 'runtimes', 'node_modules')
const TOKEN = 's3cret-runtime-token'
const TEXT = 'text/plain; version=0.0.4; charset=utf-8'
const throughput: Record<string, number> = {}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0)
      })
    })
  })
}

interface Running {
  url: string
  /** What the process printed so far (start-up messages). */
  output(): string
  stop(): Promise<void>
}

/** Starts `command`, then waits for `url` to answer; fails with the process output when it does not. */
async function launch(command: string, args: string[], env: Record<string, string>, url: string, cwd = root): Promise<Running> {
  const child: ChildProcess = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve()
    })
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${String(child.exitCode)} before serving:\n${output}`)
    try {
      const res = await fetch(`${url}/metrics/exp/health`)
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${command} did not serve ${url} within 60 s:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** The optional environment of the examples: the flag and the token, each set or not. */
interface Setup {
  flag: 'on' | 'off' | undefined
  token: string | undefined
}
type Start = (setup: Setup) => Promise<Running>

/** The environment without the variables a setup leaves unset (the parent's may have them). */
function environment(setup: Setup, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'AURIS_METRICS_EXP' && key !== 'METRICS_TOKEN') env[key] = value
  if (setup.flag !== undefined) env.AURIS_METRICS_EXP = setup.flag
  if (setup.token !== undefined) env.METRICS_TOKEN = setup.token
  return { ...env, ...extra }
}

function runtimeProcess(command: string, args: string[], cwd?: string): Start {
  return async (setup) => {
    const port = await freePort()
    return launch(command, args, environment(setup, { PORT: String(port) }), `http://127.0.0.1:${String(port)}`, cwd)
  }
}

/** The worker bundled with wrangler, once; its size goes to the report. */
let bundleDir: string | undefined
let bundleBytes: number | undefined
function bundleWorker(): string {
  if (bundleDir !== undefined) return bundleDir
  const out = mkdtempSync(join(tmpdir(), 'auris-worker-'))
  const wrangler = join(runtimes, 'wrangler', 'bin', 'wrangler.js')
  const run = spawnSyncChecked(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', out, '--config', join(fixtures, 'wrangler.toml')], fixtures)
  const main = readdirSync(out).find((f) => f.endsWith('.js'))
  if (main === undefined) throw new Error(`wrangler produced no bundle:\n${run}`)
  bundleBytes = statSync(join(out, main)).size
  bundleDir = out
  return out
}

function spawnSyncChecked(command: string, args: string[], cwd: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } })
  const output = `${r.stdout}${r.stderr}`
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${output}`)
  return output
}

/** The README's worker on workerd, with the given compatibility flags (it needs none). */
const workerd =
  (compatibilityFlags: string[]): Start =>
  async (setup) => {
  const dir = bundleWorker()
  // Loaded from the runtimes install (not a workspace dependency), so typed by hand.
  const { Miniflare } = (await import(join(runtimes, 'miniflare', 'dist', 'src', 'index.js'))) as {
    Miniflare: new (options: Record<string, unknown>) => { ready: Promise<URL>; dispose(): Promise<void> }
  }
  const main = readdirSync(dir).find((f) => f.endsWith('.js')) as string
  const port = await freePort()
  const mf = new Miniflare({
    modules: true,
    modulesRoot: dir,
    scriptPath: join(dir, main),
    compatibilityDate: '2026-04-01',
    compatibilityFlags,
    bindings: { ...(setup.flag === undefined ? {} : { AURIS_METRICS_EXP: setup.flag }), ...(setup.token === undefined ? {} : { METRICS_TOKEN: setup.token }) },
    host: '127.0.0.1',
    port,
  })
  const url = (await mf.ready).toString().replace(/\/$/, '')
  return { url, output: () => '', stop: () => mf.dispose() }
  }

/** Exactly the permissions the example states in its first line (and the README repeats): no more. */
const DENO_PERMISSIONS = (/\(run with ((?:--allow-[a-z]+ ?)+)\)/.exec(readFileSync(join(fixtures, 'deno.ts'), 'utf8'))?.[1] ?? '').trim().split(' ')

const RUNTIMES: [string, Start][] = [
  ['Node 20 (this machine)', runtimeProcess(process.execPath, [join(fixtures, 'node.mjs')])],
  ['Node 22', runtimeProcess(join(runtimes, 'node22', 'bin', 'node'), [join(fixtures, 'node.mjs')])],
  ['Node 24', runtimeProcess(join(runtimes, 'node24', 'bin', 'node'), [join(fixtures, 'node.mjs')])],
  ['Bun 1.4', runtimeProcess(join(runtimes, 'bun', 'bin', 'bun.exe'), ['run', join(fixtures, 'bun.ts')])],
  ['Deno 2.9', runtimeProcess(join(runtimes, 'deno', 'deno'), ['run', ...DENO_PERMISSIONS, join(fixtures, 'deno.ts')])],
  ['Cloudflare workerd (miniflare, no nodejs_compat)', workerd([])],
  ['Cloudflare workerd (miniflare, nodejs_compat)', workerd(['nodejs_compat'])],
]

afterAll(() => {
  if (bundleDir !== undefined) rmSync(bundleDir, { recursive: true, force: true })
  const lines = Object.entries(throughput).map(([name, rps]) => `  ${name}: ${rps.toFixed(0)} scrapes/s (one client, sequential)`)
  if (bundleBytes !== undefined) lines.push(`  worker bundle (wrangler.toml): ${String(bundleBytes)} bytes`)
  writeFileSync(join(root, 'throughput.txt'), `${lines.join('\n')}\n`)
  console.log(`runtime throughput:\n${lines.join('\n')}`)
})

const STARTUP_NO_TOKEN = 'METRICS_TOKEN is not set: /private/metrics is not served'
const STARTUP_FLAG_OFF = 'AURIS_METRICS_EXP is not on: /metrics/exp answers 503 until it is'

describe.each(RUNTIMES)('%s', (name, start) => {
  const isWorker = name.startsWith('Cloudflare')

  it('serves the exposition, the health report and the auth path with the flag on and the token set', async () => {
    const server = await start({ flag: 'on', token: TOKEN })
    try {
      const res = await fetch(`${server.url}/metrics/exp`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(TEXT)
      expect(res.headers.get('cache-control')).toBe('no-store')
      const body = await res.text()
      for (const line of [
        'atlas_degradation_count_total{window_id="global"} 2',
        'atlas_stable_ticks{window_id="global"} 0',
        'atlas_hyst_effective_mode{window_id="global"} 2',
        'atlas_windows 1',
      ]) {
        expect(body.split('\n'), line).toContain(line)
      }
      for (const family of ['atlas_stability_score', 'atlas_stability_score_ema', 'atlas_recommended_fab_mode', 'atlas_hyst_switches_total']) {
        expect(body).toContain(`# TYPE ${family} `)
      }
      const health = await (await fetch(`${server.url}/metrics/exp/health`)).json()
      expect(health).toEqual({ status: 'enabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'on', endpoint: '/metrics/exp' })
      const head = await fetch(`${server.url}/metrics/exp`, { method: 'HEAD', headers: { 'Accept-Encoding': 'identity' } })
      expect(head.status).toBe(200)
      const get = await fetch(`${server.url}/metrics/exp`, { headers: { 'Accept-Encoding': 'identity' } })
      expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'))
      expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(await get.text())))
      const post = await fetch(`${server.url}/metrics/exp`, { method: 'POST' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET, HEAD')

      const refused = await fetch(`${server.url}/private/metrics`)
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
      expect(await refused.text()).not.toContain('atlas_')
      const wrong = await fetch(`${server.url}/private/metrics`, { headers: { Authorization: 'Bearer nope' } })
      expect(wrong.status).toBe(401)
      const allowed = await fetch(`${server.url}/private/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })
      expect(allowed.status).toBe(200)
      expect(await allowed.text()).toContain('atlas_degradation_count_total{window_id="global"} 2')
      expect(server.output()).not.toContain(STARTUP_NO_TOKEN)
      expect(server.output()).not.toContain(STARTUP_FLAG_OFF)

      // Informative: sequential scrapes per second from one client.
      const until = Date.now() + 1000
      let scrapes = 0
      while (Date.now() < until) {
        await (await fetch(`${server.url}/metrics/exp`)).text()
        scrapes++
      }
      throughput[name] = scrapes
    } finally {
      await server.stop()
    }
  }, 120_000)

  it('starts without the token: says so and serves no private metrics, the public route still works', async () => {
    const server = await start({ flag: 'on', token: undefined })
    try {
      expect((await fetch(`${server.url}/metrics/exp`)).status).toBe(200)
      const res = await fetch(`${server.url}/private/metrics`, { headers: { Authorization: 'Bearer ' } })
      const body = await res.text()
      expect(body).not.toContain('atlas_')
      if (isWorker) {
        // Bindings exist only per request: the route answers 500 and logs why.
        expect(res.status).toBe(500)
        expect(body).toBe('metrics auth is misconfigured; see the server log\n')
      } else {
        expect(res.status).toBe(404)
        expect(server.output()).toContain(STARTUP_NO_TOKEN)
      }
    } finally {
      await server.stop()
    }
  }, 120_000)

  for (const flag of ['off', undefined] as const) {
    it(`answers 503 with the flag named while the flag is ${flag ?? 'unset'} (no token either), and says so at start-up`, async () => {
      const server = await start({ flag, token: undefined })
      try {
        const res = await fetch(`${server.url}/metrics/exp`)
        expect(res.status).toBe(503)
        expect(await res.json()).toEqual({ detail: 'Metrics disabled (set AURIS_METRICS_EXP=on to enable)' })
        const health = await (await fetch(`${server.url}/metrics/exp/health`)).json()
        expect(health).toEqual({ status: 'disabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: flag ?? null, endpoint: null })
        if (!isWorker) expect(server.output()).toContain(STARTUP_FLAG_OFF)
      } finally {
        await server.stop()
      }
    }, 120_000)
  }
})

describe('Cloudflare workerd without nodejs_compat', () => {
  it('bundles no prom-client and no node: module, and serves OpenMetrics to a scraper that asks for it', async () => {
    const dir = bundleWorker()
    const code = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.js')) as string), 'utf8')
    // esbuild marks each bundled module with its path: prom-client's would show as node_modules/prom-client/lib/….
    expect(code.includes('node_modules/prom-client/')).toBe(false)
    expect(/from "node:|require\("node:/.test(code)).toBe(false)
    const server = await workerd([])({ flag: 'on', token: TOKEN })
    try {
      const res = await fetch(`${server.url}/metrics/exp`, { headers: { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } })
      expect(res.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
      const body = await res.text()
      expect(body.split('\n')).toContain('atlas_degradation_count_total{window_id="global"} 2')
      expect(body.endsWith('\n# EOF\n')).toBe(true)
    } finally {
      await server.stop()
    }
  }, 120_000)
})

describe('the other README examples, on Node', () => {
  const setups: Setup[] = [
    { flag: 'on', token: TOKEN },
    { flag: undefined, token: undefined },
  ]

  it.each(setups)('usage.mjs prints one scrape of both sources (flag $flag, token $token)', (setup) => {
    const run = spawnSync(process.execPath, [join(fixtures, 'usage.mjs')], { cwd: root, encoding: 'utf8', env: environment(setup, {}) })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const lines = run.stdout.split('\n')
    expect(lines[0]).toBe(`200 ${TEXT}`)
    expect(lines).toContain('app_requests_total 1')
    expect(lines).toContain('atlas_windows 1')
  })

  it.each(setups)('readiness.mjs answers the Kubernetes probes of k8s-probes.yaml (flag $flag, token $token)', async (setup) => {
    const server = await runtimeProcess(process.execPath, [join(fixtures, 'readiness.mjs')])(setup)
    try {
      const spec = parse(readFileSync(join(fixtures, 'k8s-probes.yaml'), 'utf8')) as {
        ports: { name: string; containerPort: number }[]
        livenessProbe: { httpGet: { path: string; port: string } }
        readinessProbe: { httpGet: { path: string; port: string } }
      }
      // The probes name the port the server listens on by default.
      const port = spec.ports.find((p) => p.name === spec.readinessProbe.httpGet.port)
      expect(port?.containerPort).toBe(8010)
      expect(spec.livenessProbe.httpGet.port).toBe('http')
      expect(readFileSync(join(fixtures, 'readiness.mjs'), 'utf8')).toContain('port: Number(process.env.PORT ?? 8010)')

      const live = await fetch(`${server.url}${spec.livenessProbe.httpGet.path}`)
      expect(live.status).toBe(200)
      expect(await live.json()).toEqual({ status: 'alive' })
      // Ready once the loop has reported the window (one tick, 100 ms).
      const deadline = Date.now() + 10_000
      let ready = await fetch(`${server.url}${spec.readinessProbe.httpGet.path}`)
      while (ready.status !== 200 && Date.now() < deadline) {
        expect(ready.status).toBe(503)
        await new Promise((r) => setTimeout(r, 50))
        ready = await fetch(`${server.url}${spec.readinessProbe.httpGet.path}`)
      }
      expect(ready.status).toBe(200)
      const body = (await ready.json()) as { status: string; windows: { window_id: string; status: string; mode: string }[] }
      expect(body.status).toBe('ready')
      expect(body.windows.map((w) => [w.window_id, w.status, w.mode])).toEqual([['global', 'ready', 'FAB2']])
    } finally {
      await server.stop()
    }
  }, 60_000)
})
