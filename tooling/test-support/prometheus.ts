import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eventually, freePort, start, type Child } from './index.js'

/** A real Prometheus (Debian's `prometheus`) on a free port of 127.0.0.1. */
export interface Prometheus {
  readonly url: string
  readonly port: number
  readonly child: Child
  /** SIGTERM (SIGKILL after a grace); resolves once it is gone. */
  stop(): Promise<number | null>
}

/**
 * Writes `config` to `dir/prometheus.yml`, starts Prometheus on it with its
 * storage in `dir/data` (plus `args`, such as `--enable-feature=agent`),
 * and waits until it is ready. Fails, never skips, when it is missing:
 * .ci/run installs it.
 */
export async function startPrometheus(dir: string, config: string, args: readonly string[] = []): Promise<Prometheus> {
  const port = await freePort()
  const url = `http://127.0.0.1:${String(port)}`
  writeFileSync(join(dir, 'prometheus.yml'), config)
  const child = start('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${String(port)}`, '--log.level=warn', ...args])
  const failed = new Promise<never>((_resolve, reject) => {
    child.process.once('error', (error) => {
      reject(new Error(`prometheus could not start (${error.message}); install the Debian package "prometheus"`))
    })
  })
  await Promise.race([failed, eventually('Prometheus to be ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 60_000)])
  return { url, port, child, stop: () => child.stop() }
}
