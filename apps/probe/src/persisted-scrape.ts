import type { MetricsSource } from '@auris/metrics-http'
import type { Simulation } from './serve.js'

/**
 * What `serve` answers a scrape with: the exporter's exposition, sent only
 * once the state file holds a snapshot taken after it was read. Every value
 * a scraper saw is then at most the one on disk, so a probe restored after a
 * crash (SIGKILL) never exports a counter lower than one exported before:
 * Prometheus sees no reset, and `increase()` across the restart misses only
 * the events that happened after the last snapshot (at most those since the
 * last scrape). Without a state file, the exporter itself.
 */
export function persistedSource(simulation: Pick<Simulation, 'exporter' | 'persist'>, withStateFile: boolean): MetricsSource {
  const exporter = simulation.exporter
  if (!withStateFile) return exporter
  return {
    contentType: exporter.contentType,
    formats: exporter.formats,
    familyNames: exporter.familyNames,
    metrics: async () => {
      const text = await exporter.metrics()
      await simulation.persist()
      return text
    },
    // Read and rendered first (the sources are read at the first chunk), persisted, then handed out.
    expose: async function* (format) {
      const chunks: Uint8Array[] = []
      for await (const chunk of exporter.expose(format)) chunks.push(chunk)
      await simulation.persist()
      yield* chunks
    },
  }
}
