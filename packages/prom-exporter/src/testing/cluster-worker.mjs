// A cluster worker for the cluster tests: windows `global` and `stream` tick every TICK_MS; window
// `global` degrades every PERIODS[slot] ticks (0: never), `stream` never. The shared port is served
// with node:http from the cluster source. Reports its injected degradations to the primary on request.
// BUCKETS=0.5,0.8: the trackers keep a score histogram with those bounds.
import { createServer } from 'node:http'
import { StabilityWindows } from '@auris/stability-core'
import { createStabilityExporter } from '../../dist/index.js'
import { clusterWorkerSource, workerSlot } from '../../dist/cluster.js'

const slot = workerSlot()
const periods = (process.env.PERIODS ?? '0').split(',').map(Number)
const period = periods[slot ?? 0] ?? 0
const buckets = process.env.BUCKETS === undefined ? undefined : process.env.BUCKETS.split(',').map(Number)
const windows = new StabilityWindows({ tracker: { minStableTicks: 30, ...(buckets === undefined ? {} : { scoreBuckets: buckets }) } })
const exporter = createStabilityExporter()
exporter.track(windows)
// BRAID=1: the worker serves its own exporter, as without the cluster entry (what the tests show goes wrong).
const source = process.env.BRAID === '1' ? exporter : clusterWorkerSource(exporter, { timeoutMs: 5000 })
let ticks = 0
let injected = 0
const tick = () => {
  ticks++
  const degrade = period > 0 && ticks % period === 0
  if (degrade) injected++
  windows.tick('global', degrade ? 0.3 : 0.9, degrade)
  windows.tick('stream', 0.9, false)
}
if (process.env.STOP_AT !== undefined) for (let i = 0; i < Number(process.env.STOP_AT); i++) tick()
else setInterval(tick, Number(process.env.TICK_MS ?? 5))
process.on('message', (m) => {
  if (m?.test === 'injected') process.send({ test: 'injected', slot, injected, ticks })
  if (m?.test === 'hang') {
    const until = Date.now() + Number(m.ms)
    while (Date.now() < until) {
      // blocks the event loop: the primary's request waits
    }
  }
})
const server = createServer(async (req, res) => {
  const format = (req.headers.accept ?? '').includes('openmetrics') ? 'openmetrics' : 'prometheus'
  try {
    const chunks = []
    for await (const chunk of source.expose(format)) chunks.push(chunk)
    res.writeHead(200, { 'Content-Type': format === 'openmetrics' ? 'application/openmetrics-text; version=1.0.0; charset=utf-8' : source.contentType, 'X-Worker': String(slot) })
    res.end(Buffer.concat(chunks))
  } catch (error) {
    res.writeHead(500)
    res.end(String(error))
  }
})
// Port 0 in a cluster: the primary picks one free port and every worker shares it.
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.send({ test: 'listening', slot, port: server.address().port }))
