import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually, freePort, start, type Child } from './index.js'

/** A real Pushgateway (Debian `prometheus-pushgateway`) on a free port of 127.0.0.1, without persistence. */
export interface Pushgateway {
  readonly url: string
  readonly port: number
  readonly child: Child
  /** Stops it and removes its directory. */
  stop(): Promise<void>
}

/**
 * Starts `prometheus-pushgateway` and waits until it answers. Fails, never
 * skips, when it is missing: .ci/run installs it.
 */
export async function startPushgateway(): Promise<Pushgateway> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'auris-pushgateway-'))
  const child = start('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${String(port)}`, '--persistence.file=', '--log.level=warn'], { cwd: dir })
  const failed = new Promise<never>((_resolve, reject) => {
    child.process.once('error', (error) => {
      reject(new Error(`prometheus-pushgateway could not start (${error.message}); install the Debian package "prometheus-pushgateway"`))
    })
  })
  const url = `http://127.0.0.1:${String(port)}`
  await Promise.race([failed, eventually('the Pushgateway to be ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000, 100)])
  return {
    url,
    port,
    child,
    stop: async () => {
      await child.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
