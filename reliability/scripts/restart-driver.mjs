// A deterministic service for the restart test: feeds windows with inputs
// that are a pure function of (window, tick), on a clock that is the tick
// number, and snapshots them to a file.
//
//   node restart-driver.mjs run <state-file> <ticks> <snapshot-every>   then keeps ticking until killed
//   node restart-driver.mjs resume <state-file> <ticks>                  prints a digest of every tick, then the final state
//   node restart-driver.mjs straight <ticks> <from>                      the uninterrupted run: digests of ticks after <from>
import { createHash } from 'node:crypto'
import { StabilityWindows } from '@auris/stability-core'
import { readSnapshotFile, writeSnapshotFile } from '@auris/stability-core/node'

const IDS = ['global', 'stream', 'batch "nightly"']
let tick = 0
const clock = () => tick * 100
const options = { tracker: { minStableTicks: 20 }, hysteresis: { dwellTicks: 5, rateLimitTicks: 10, oscWindow: 50 } }

function input(window, t) {
  const x = Math.sin(t * 0.37 + window * 1.7) + Math.sin(t * 0.05 * (window + 1))
  return { score: Math.min(1, Math.max(0, 0.75 + 0.2 * x)), degraded: (t * 7 + window * 13) % 97 === 0 }
}

function step(windows) {
  tick++
  for (const [w, id] of IDS.entries()) {
    const { score, degraded } = input(w, tick)
    windows.tick(id, score, degraded)
  }
}

function digest(windows) {
  const state = IDS.map((id) => {
    const w = windows.get(id)
    return [w.tracker.getMetrics(), w.hysteresis.getMetrics()]
  })
  return createHash('sha256').update(JSON.stringify(state)).digest('hex').slice(0, 16)
}

const [mode, a, b, c] = process.argv.slice(2)
if (mode === 'run') {
  const windows = new StabilityWindows({ ...options, clock })
  const ticks = Number(b)
  const every = Number(c)
  for (let i = 0; i < ticks; i++) {
    step(windows)
    if (tick % every === 0) await writeSnapshotFile(a, windows.toJSON())
  }
  console.log(`snapshotted at ${String(tick)}`)
  // Keep working past the last snapshot: that progress is lost when the process is killed.
  for (;;) {
    step(windows)
    if (tick % 1000 === 0) await new Promise((r) => setImmediate(r))
  }
} else if (mode === 'resume') {
  let snapshot
  try {
    snapshot = await readSnapshotFile(a)
  } catch (error) {
    console.log(JSON.stringify({ restored: false, problem: error.message }))
    process.exit(0)
  }
  // The service's clock goes on from the snapshot's moment: here, the tick it was taken at.
  tick = snapshot.windows.find((w) => w.id === 'global').tracker.state.ticks
  const windows = StabilityWindows.fromJSON(snapshot, { clock })
  const digests = []
  for (let i = 0; i < Number(b); i++) {
    step(windows)
    digests.push(digest(windows))
  }
  console.log(JSON.stringify({ restored: true, from: tick - Number(b), digests }))
} else if (mode === 'straight') {
  const windows = new StabilityWindows({ ...options, clock })
  const digests = []
  for (let i = 0; i < Number(a); i++) {
    step(windows)
    if (tick > Number(b)) digests.push(digest(windows))
  }
  console.log(JSON.stringify({ digests }))
} else {
  throw new Error(`unknown mode ${String(mode)}`)
}
