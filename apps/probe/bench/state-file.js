// @ts-check
/**
 * `pnpm bench` (state-file part): the serve simulation with 100,000 windows,
 * a tick every 10 ms, measured for a while without a state file and then
 * with one (restored at start, snapshotted every second), in this process:
 * event-loop delay (monitorEventLoopDelay, 1 ms resolution) and ticks per
 * second. Also times one synchronous snapshot (`toJSON` + `JSON.stringify`,
 * what the probe did before) for comparison. Each mode runs in its own
 * process, one after the other.
 *
 *   node bench/state-file.js [--windows 100000] [--seconds 12] [--json]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const arg = (name, fallback) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback)
const windows = arg('--windows', 100_000)
const seconds = arg('--seconds', 12)
const mode = process.argv[2]

/** One measured run, in this process: prints one JSON line. */
async function measure(stateFile) {
  const { startSimulation } = await import('../dist/serve.js')
  const started = performance.now()
  const options = { windows, tickMs: 10, scenario: /** @type {const} */ ('random'), schedule: null, seed: 1, degradeProbability: 0.002, stateFile, snapshotMs: 1000, stateMaxBytes: 256 * 1024 * 1024 }
  const simulation = await startSimulation(options, (line) => console.error(line))
  const startupMs = performance.now() - started
  simulation.start()
  // Warm-up: JIT, first snapshot cycle.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const delay = monitorEventLoopDelay({ resolution: 1 })
  // Each snapshot of 100,000 windows takes seconds at a quarter of the loop: measure over whole ones.
  const before = simulation.state()
  delay.enable()
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  delay.disable()
  const after = simulation.state()
  const elapsed = (performance.now() - t0) / 1000
  await simulation.stop()
  const bytes = stateFile === null ? null : statSync(stateFile).size
  console.log(
    JSON.stringify({
      stateFile: stateFile !== null,
      windows,
      startupMs: Math.round(startupMs),
      ticksPerSecond: Math.round(((after.ticks - before.ticks) / elapsed) * 10) / 10,
      ticksBehind: after.ticksBehind,
      delayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
      snapshots: after.stateFile === null ? null : after.stateFile.written - (before.stateFile?.written ?? 0),
      lastSnapshotMs: after.stateFile?.lastWriteMs ?? null,
      longestSliceMs: after.stateFile?.longestSliceMs ?? null,
      load: (await import('node:os')).loadavg()[0],
      failed: after.stateFile?.failed ?? null,
      bytes,
    }),
  )
}

/** The old way, for comparison: one synchronous toJSON + stringify of the same registry. */
async function blocking(stateFile) {
  const { readSnapshotFile } = await import('@auris/stability-core/node')
  const { StabilityWindows } = await import('@auris/stability-core')
  const registry = StabilityWindows.fromJSON(await readSnapshotFile(stateFile), { maxWindows: windows })
  const t0 = performance.now()
  const text = JSON.stringify(registry.toJSON())
  console.log(JSON.stringify({ blockingSnapshotMs: Math.round(performance.now() - t0), bytes: text.length }))
}

if (mode === 'measure') {
  await measure(process.argv[3] === 'none' ? null : (process.argv[3] ?? null))
} else if (mode === 'blocking') {
  await blocking(/** @type {string} */ (process.argv[3]))
} else {
  const dir = mkdtempSync(join(tmpdir(), 'auris-bench-state-'))
  const file = join(dir, 'state.json')
  const script = fileURLToPath(import.meta.url)
  const run = (...args) => JSON.parse(execFileSync(process.execPath, [script, ...args, '--windows', String(windows), '--seconds', String(seconds)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop() ?? '{}')
  try {
    const none = run('measure', 'none')
    // The first run with a state file creates it; the second restores it at start, as a restart does.
    run('measure', file)
    const withFile = run('measure', file)
    const old = run('blocking', file)
    const result = { none, withFile, old, tickRateRatio: Math.round((withFile.ticksPerSecond / none.ticksPerSecond) * 1000) / 1000 }
    if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2))
    else {
      console.log(`state file, ${String(windows)} windows, a tick every 10 ms, ${String(seconds)} s measured after 2 s of warm-up`)
      console.log('| | ticks/s | event-loop p50 | p99 | max | snapshots | last snapshot took | its longest slice | file | load avg |')
      console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
      for (const [label, r] of [
        ['no state file', none],
        ['state file (restored at start, snapshot every 1 s)', withFile],
      ]) {
        console.log(
          `| ${label} | ${String(r.ticksPerSecond)} | ${r.delayMs.p50.toFixed(1)} ms | ${r.delayMs.p99.toFixed(1)} ms | ${r.delayMs.max.toFixed(1)} ms | ${String(r.snapshots ?? '-')} | ${r.lastSnapshotMs === null ? '-' : `${String(r.lastSnapshotMs)} ms`} | ${r.longestSliceMs === null ? '-' : `${String(r.longestSliceMs)} ms`} | ${r.bytes === null ? '-' : `${(r.bytes / 1e6).toFixed(1)} MB`} | ${r.load.toFixed(1)} |`,
        )
      }
      console.log(`tick rate with / without the state file: ${String(result.tickRateRatio)}; startup with the restore: ${String(withFile.startupMs)} ms`)
      console.log(`one synchronous snapshot of the same registry (toJSON + JSON.stringify, the previous way): ${String(old.blockingSnapshotMs)} ms of blocked event loop`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
