import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

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
  stop(): Promise<void>
}

/** Starts `command`, then waits for `url` to answer; fails with the process output when it does not. */
async function launch(command: string, args: string[], env: Record<string, string>, url: string, cwd = root): Promise<Running> {
  const child: ChildProcess = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
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
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

type Start = (flag: 'on' | 'off') => Promise<Running>

function runtimeProcess(command: string, args: string[], cwd?: string): Start {
  return async (flag) => {
    const port = await freePort()
    return launch(command, args, { PORT: String(port), AURIS_METRICS_EXP: flag, METRICS_TOKEN: TOKEN }, `http://127.0.0.1:${String(port)}`, cwd)
  }
}

/** Bundles a worker with wrangler once per config (with nodejs_compat, prom-client's require() calls become imports). */
const bundleDirs = new Map<string, string>()
/** Bundle sizes, for the report: the worker with nodejs_compat and prom-client, and the edge one without either. */
const bundleSizes: Record<string, number> = {}
function bundleWorker(config: string): string {
  const done = bundleDirs.get(config)
  if (done !== undefined) return done
  const out = mkdtempSync(join(tmpdir(), 'auris-worker-'))
  const wrangler = join(runtimes, 'wrangler', 'bin', 'wrangler.js')
  const run = spawnSyncChecked(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', out, '--config', join(fixtures, config)], fixtures)
  const main = readdirSync(out).find((f) => f.endsWith('.js'))
  if (main === undefined) throw new Error(`wrangler produced no bundle:\n${run}`)
  bundleSizes[config] = statSync(join(out, main)).size
  bundleDirs.set(config, out)
  return out
}

function spawnSyncChecked(command: string, args: string[], cwd: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } })
  const output = `${r.stdout}${r.stderr}`
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${output}`)
  return output
}

const workerd =
  (config: string, compatibilityFlags: string[]): Start =>
  async (flag) => {
  const dir = bundleWorker(config)
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
    bindings: { AURIS_METRICS_EXP: flag, METRICS_TOKEN: TOKEN },
    host: '127.0.0.1',
    port,
  })
  const url = (await mf.ready).toString().replace(/\/$/, '')
  return { url, stop: () => mf.dispose() }
  }

const RUNTIMES: [string, Start][] = [
  ['Node 20 (this machine)', runtimeProcess(process.execPath, [join(fixtures, 'node.mjs')])],
  ['Node 22', runtimeProcess(join(runtimes, 'node22', 'bin', 'node'), [join(fixtures, 'node.mjs')])],
  ['Node 24', runtimeProcess(join(runtimes, 'node24', 'bin', 'node'), [join(fixtures, 'node.mjs')])],
  ['Bun 1.4', runtimeProcess(join(runtimes, 'bun', 'bin', 'bun.exe'), ['run', join(fixtures, 'bun.ts')])],
  ['Deno 2.9', runtimeProcess(join(runtimes, 'deno', 'deno'), ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', join(fixtures, 'deno.ts')])],
  ['Cloudflare workerd (miniflare)', workerd('wrangler.toml', ['nodejs_compat'])],
  ['Cloudflare workerd without nodejs_compat (miniflare)', workerd('wrangler-edge.toml', [])],
]

afterAll(() => {
  for (const dir of bundleDirs.values()) rmSync(dir, { recursive: true, force: true })
  const lines = Object.entries(throughput).map(([name, rps]) => `  ${name}: ${rps.toFixed(0)} scrapes/s (one client, sequential)`)
  for (const [config, bytes] of Object.entries(bundleSizes)) lines.push(`  worker bundle (${config}): ${String(bytes)} bytes`)
  writeFileSync(join(root, 'throughput.txt'), `${lines.join('\n')}\n`)
  console.log(`runtime throughput:\n${lines.join('\n')}`)
})

describe.each(RUNTIMES)('%s', (name, start) => {
  it('serves the exposition, the health report and the auth path with the flag on', async () => {
    const server = await start('on')
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

      const refused = await fetch(`${server.url}/private/metrics`)
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
      expect(await refused.text()).not.toContain('atlas_')
      const wrong = await fetch(`${server.url}/private/metrics`, { headers: { Authorization: 'Bearer nope' } })
      expect(wrong.status).toBe(401)
      const allowed = await fetch(`${server.url}/private/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })
      expect(allowed.status).toBe(200)
      expect(await allowed.text()).toContain('atlas_degradation_count_total{window_id="global"} 2')

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

  it('answers 503 with the flag named while the flag is off', async () => {
    const server = await start('off')
    try {
      const res = await fetch(`${server.url}/metrics/exp`)
      expect(res.status).toBe(503)
      expect(await res.json()).toEqual({ detail: 'Metrics disabled (set AURIS_METRICS_EXP=on to enable)' })
      const health = await (await fetch(`${server.url}/metrics/exp/health`)).json()
      expect(health).toEqual({ status: 'disabled', feature_flag: 'AURIS_METRICS_EXP', flag_value: 'off', endpoint: null })
    } finally {
      await server.stop()
    }
  }, 120_000)
})

describe('Cloudflare workerd without nodejs_compat', () => {
  it('bundles no prom-client, and serves OpenMetrics to a scraper that asks for it', async () => {
    const dir = bundleWorker('wrangler-edge.toml')
    const code = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.js')) as string), 'utf8')
    // esbuild marks each bundled module with its path: prom-client's would show as node_modules/prom-client/lib/….
    expect(code.includes('node_modules/prom-client/')).toBe(false)
    expect(/from "node:|require\("node:/.test(code)).toBe(false)
    const server = await workerd('wrangler-edge.toml', [])('on')
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

describe('the metrics-http README', () => {
  it('shows exactly the fixtures the suite runs', () => {
    const readme = readFileSync(join(root, '..', 'packages', 'metrics-http', 'README.md'), 'utf8')
    for (const file of ['node.mjs', 'bun.ts', 'deno.ts', 'worker.ts', 'wrangler.toml']) {
      const code = readFileSync(join(fixtures, file), 'utf8')
      expect(readme, `README block for fixtures/${file}`).toContain(`<!-- fixture: runtime-tests/fixtures/${file} -->\n\`\`\`${file.endsWith('.toml') ? 'toml' : file.endsWith('.mjs') ? 'js' : 'ts'}\n${code}\`\`\``)
    }
  })
})
