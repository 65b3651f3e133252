import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { metricsRoutes } from '@auris/metrics-http'
import { createStabilityExporter } from '@auris/prom-exporter'
import { StabilityWindows, windowIdProblem } from '@auris/stability-core'
import { eventually, freePort, start } from '@auris/test-support'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { record } from './figures.js'

const HOSTILE: [string, string][] = [
  ['empty', ''],
  ['10 KB', 'x'.repeat(10_240)],
  ['a newline', 'a\nb'],
  ['a carriage return', 'a\rb'],
  ['a NUL', 'a\u0000b'],
  ['a tab', 'a\tb'],
  ['DEL', 'a\u007f'],
  ['a C1 control', '\u0085'],
  ['a lone high surrogate', 'a\ud800'],
  ['a lone low surrogate', '\udc00z'],
  ['quotes', 'say "hi"'],
  ['backslashes', 'C:\\fab\\window'],
  ['a backslash before a quote', '\\"'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['toString', 'toString'],
  ['braces and commas', '{a="b",c}'],
  ['unicode', 'débit-😀-東京'],
  ['a space', ' '],
  ['128 characters', 'y'.repeat(128)],
]

describe('4. bad window ids', () => {
  it('rejects each invalid id with a reason, exports the others escaped; promtool and a real Prometheus agree', async () => {
    const windows = new StabilityWindows()
    const rejected: string[] = []
    for (const [label, id] of HOSTILE) {
      const accepted = windows.tick(id, 0.5, true)
      const problem = windowIdProblem(id)
      expect(accepted, label).toBe(problem === null)
      if (!accepted) rejected.push(`${label}: ${String(problem)}`)
    }
    const accepted = HOSTILE.map(([, id]) => id).filter((id) => windowIdProblem(id) === null)
    const exporter = createStabilityExporter()
    exporter.track(windows)
    const text = await exporter.metrics()
    expect(text).toContain(`atlas_windows_rejected_total{reason="invalid_id"} ${String(rejected.length)}`)

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    if (check.error !== undefined) throw new Error(`promtool could not run: ${check.error.message}`)
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('')
    expect(check.status).toBe(0)

    // A real Prometheus scrapes it and reports back the exact ids.
    const app = new Hono()
    app.route('/metrics/exp', metricsRoutes({ sources: exporter, enabled: true }))
    const port = await freePort()
    const server: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => {
        resolve(s)
      })
    })
    const dir = mkdtempSync(join(tmpdir(), 'auris-ids-'))
    const promPort = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: ids\n    metrics_path: /metrics/exp\n    static_configs: [{ targets: ['127.0.0.1:${String(port)}'] }]\n`,
    )
    const prometheus = start('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${String(promPort)}`, '--log.level=warn'])
    try {
      const url = `http://127.0.0.1:${String(promPort)}`
      const ids = await eventually('the ids in Prometheus', async () => {
        const res = (await (await fetch(`${url}/api/v1/label/window_id/values?match[]=atlas_stable_ticks`)).json()) as { data: string[] }
        return res.data.length === accepted.length ? res.data : undefined
      }, 60_000)
      expect([...ids].sort()).toEqual([...accepted].sort())
      const up = (await (await fetch(`${url}/api/v1/query?query=up`)).json()) as { data: { result: { value: [number, string] }[] } }
      expect(up.data.result[0]?.value[1]).toBe('1')
    } finally {
      await prometheus.stop()
      await new Promise<void>((resolve) => server.close(() => { resolve(); }))
      rmSync(dir, { recursive: true, force: true })
    }
    record('window-ids', { tried: HOSTILE.length, rejected: rejected.length, exportedAndReadBack: accepted.length, reasons: rejected })
  })
})
