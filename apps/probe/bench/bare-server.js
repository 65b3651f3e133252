// @ts-check
/**
 * The in-run baseline of the HTTP benchmark: a bare node:http server that
 * serves the same exposition as `probe serve` (the same simulation, windows
 * and exporter), with no framework in between.
 *
 *   node bench/bare-server.js <port> <windows>
 */
import { createServer } from 'node:http'
import { startSimulation } from '../dist/serve.js'

const port = Number(process.argv[2] ?? 8011)
const windows = Number(process.argv[3] ?? 1)
const simulation = await startSimulation({ windows, tickMs: 10, scenario: 'random', schedule: null, seed: 1, degradeProbability: 0.01, stateFile: null, snapshotMs: 1000, stateMaxBytes: 256 * 1024 * 1024 })
simulation.start()
const exporter = simulation.exporter

const server = createServer((req, res) => {
  if (req.url !== '/metrics/exp') {
    res.writeHead(404).end()
    return
  }
  exporter.metrics().then(
    (text) => {
      res.writeHead(200, { 'Content-Type': exporter.contentType, 'Cache-Control': 'no-store' })
      res.end(text)
    },
    () => {
      res.writeHead(500).end()
    },
  )
})
server.listen(port, '127.0.0.1')
process.once('SIGTERM', () => {
  server.close(() => {
    void simulation.stop().then(() => process.exit(0))
  })
  server.closeIdleConnections()
})
