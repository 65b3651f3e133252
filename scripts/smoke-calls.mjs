// The smoke calls shared by the packaging smoke test (pnpm test:pack, from
// tarballs) and the release rehearsal (pnpm test:release, from a registry):
// every public entry point imported, one real call each.

/** One real call per package, run against the installed tarball. */
export const CALLS = {
  '@auris/stability-core': `
    const t = new mod.StabilityTracker({ minStableTicks: 30 })
    for (let i = 0; i < 20; i++) t.tick(0.9)
    t.tick(0.4, true)
    const m = t.getMetrics()
    assert(m.degradationCount === 1 && m.stableTicks === 0 && m.recommendedMode === 'FAB1', JSON.stringify(m))
    const w = new mod.StabilityWindows()
    assert(w.tick('global', 0.9) && !w.tick('', 0.9), 'window registry')`,
  '@auris/stability-core/node': `
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const core = await import('@auris/stability-core')
    const w = new core.StabilityWindows()
    w.tick('global', 0.4, true)
    const path = mkdtempSync(tmpdir() + '/auris-smoke-') + '/state.json'
    await mod.writeSnapshotFile(path, w.toJSON())
    const back = await mod.restoreWindowsFile(path)
    assert(back.restored && back.windows.get('global').tracker.degradationCount === 1, 'snapshot file round trip')`,
  '@auris/fab-hook': `
    const hook = mod.attach({ coherence_score: 0.7, _prev_mode: 'FAB2', mode: 'FAB1' }, { env: { AURIS_STABILITY_HOOK: 'on' } })
    assert(hook !== null && hook.tick() === true && hook.tracker.getMetrics().degradationCount === 1, 'attach + tick')
    assert(mod.attach({}, { env: {} }) === null, 'flag off gives null')`,
  '@auris/prom-exporter/dashboard': `
    assert(mod.buildDashboard({ uid: 'x' }).uid === 'x', 'buildDashboard')`,
  '@auris/prom-exporter': `
    const core = await import('@auris/stability-core')
    const windows = new core.StabilityWindows()
    windows.tick('global', 0.4, true)
    const exporter = mod.createStabilityExporter()
    exporter.track(windows)
    const text = await exporter.metrics()
    assert(text.includes('atlas_degradation_count_total{window_id="global"} 1'), text.slice(0, 200))
    assert(exporter.render('openmetrics').endsWith('# EOF\\n'), 'OpenMetrics')
    const setup = await import('@auris/prom-exporter/setup')
    assert((await setup.setupPrometheusMetrics({ env: {} })) === null, 'setup off gives null')
    const { readFileSync } = await import('node:fs')
    const { createRequire } = await import('node:module')
    const pkg = createRequire(import.meta.url).resolve('@auris/prom-exporter/package.json')
    const dir = pkg.slice(0, -'package.json'.length)
    assert(readFileSync(dir + 'alerts/atlas-stability.rules.yml', 'utf8').includes('alert: StabilityLow'), 'rules file shipped')
    assert(JSON.parse(readFileSync(dir + 'dashboards/atlas-stability.json', 'utf8')).uid === 'auris-fab-stability', 'dashboard shipped')`,
  '@auris/prom-exporter/push': `
    assert(mod.groupPath('nightly', { run_id: 'r1', path: '/var/tmp' }) === '/metrics/job/nightly/run_id/r1/path@base64/L3Zhci90bXA=', 'groupPath')
    assert(mod.createPusher({ url: 'http://127.0.0.1:9091', job: 'j', runId: 'r' }).url === 'http://127.0.0.1:9091/metrics/job/j/run_id/r', 'createPusher')`,
  '@auris/prom-exporter/cluster': `
    const core = await import('@auris/stability-core')
    const { createStabilityExporter } = await import('@auris/prom-exporter')
    const merger = new mod.ClusterMerger('aggregate')
    const parts = [0.4, 0.9].map((score, slot) => {
      const windows = new core.StabilityWindows()
      windows.tick('global', score, score < 0.5)
      const exporter = createStabilityExporter()
      exporter.track(windows)
      return merger.ingest(slot, slot, mod.toWorkerSnapshot(exporter.snapshot()))
    })
    const text = new TextDecoder().decode(mod.renderCluster(mod.clusterLayout(), merger.merge(parts)))
    assert(text.includes('atlas_degradation_count_total{window_id="global"} 1'), text.slice(0, 200))
    const primary = mod.createClusterPrimary()
    assert((await primary.collect()).size === 0, 'a primary with no worker')
    primary.close()`,
  '@auris/prom-exporter/prom-client': `
    const core = await import('@auris/stability-core')
    const { Registry } = await import('prom-client')
    const windows = new core.StabilityWindows()
    windows.tick('global', 0.4, true)
    const registry = new Registry()
    const exporter = mod.createStabilityExporter({ registry })
    exporter.track(windows)
    assert((await registry.metrics()) === (await exporter.metrics()), 'adapter renders as prom-client does')
    exporter.dispose()
    assert(registry.getMetricsAsArray().length === 0, 'dispose')`,
  '@auris/metrics-http': `
    const { Hono } = await import('hono')
    const app = new Hono()
    app.route('/metrics/exp', mod.metricsRoutes({ sources: { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: () => 'up 1\\n' } }))
    const res = await app.request('/metrics/exp', {}, { AURIS_METRICS_EXP: 'on' })
    assert(res.status === 200 && (await res.text()) === 'up 1\\n', 'route')
    assert((await app.request('/metrics/exp', {}, {})).status === 503, 'disabled')`,
}

/** Entry points that need an optional peer (prom-client), smoke-tested once it is installed. */
export const ADAPTERS = new Set(['@auris/prom-exporter/prom-client'])

/**
 * An ES module that imports every public entry point of `manifests` and
 * makes its smoke call: the entries that need prom-client when
 * `wantAdapter`, the others otherwise.
 *
 * @param {{ name: string, exports?: Record<string, unknown> }[]} manifests
 * @param {boolean} wantAdapter
 * @returns {{ text: string, count: number }}
 */
export function smokeScript(manifests, wantAdapter) {
  const lines = ['const assert = (ok, what) => { if (!ok) throw new Error(`smoke call failed: ${what}`) }']
  let count = 0
  for (const manifest of manifests) {
    const entries = Object.keys(manifest.exports ?? { '.': null }).filter((key) => key !== './package.json')
    for (const entry of entries) {
      const specifier = entry === '.' ? manifest.name : `${manifest.name}/${entry.replace(/^\.\//, '')}`
      if (ADAPTERS.has(specifier) !== wantAdapter) continue
      lines.push(`{ const mod = await import(${JSON.stringify(specifier)}); assert(Object.keys(mod).length > 0, ${JSON.stringify(specifier)} + ' exports nothing')`)
      lines.push(CALLS[specifier] ?? '')
      lines.push(`console.log('  ok ${specifier}${wantAdapter ? ' (prom-client installed)' : ''}') }`)
      count++
    }
  }
  return { text: lines.join('\n'), count }
}
