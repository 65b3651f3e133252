// Installs the runtimes of the runtime suite (Node 22 and 24, Bun, Deno,
// workerd through miniflare and wrangler) into runtime-tests/runtimes with
// `npm ci`, from its own lockfile: about 700 MB that the workspace install
// leaves out. Skipped when the installed tree matches the lockfile.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../runtimes/', import.meta.url))
const lock = readFileSync(`${dir}package-lock.json`)
const digest = createHash('sha256').update(lock).digest('hex')
const stamp = `${dir}node_modules/.installed-lock`
if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) {
  console.log('runtimes: up to date')
} else {
  const started = Date.now()
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' })
  writeFileSync(stamp, digest)
  console.log(`runtimes: installed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}
