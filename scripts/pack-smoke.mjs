// Packaging smoke test: `pnpm pack` every publishable package, install the
// tarballs with plain npm into a throw-away project outside the workspace,
// import every public entry point from an ESM file and make one real call
// per package. Catches a broken `exports` map, a missing `files` entry or a
// `workspace:`/`catalog:` range that leaked into a published manifest.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CALLS, smokeScript } from './smoke-calls.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

const packages = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => join(root, 'packages', d.name))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => manifest.private !== true)

const work = mkdtempSync(join(tmpdir(), 'auris-pack-'))
try {
  const tarballs = []
  for (const { dir, manifest } of packages) {
    if (!(manifest.name in CALLS)) throw new Error(`pack-smoke: no smoke call for ${manifest.name}; add one to CALLS`)
    const out = execFileSync('pnpm', ['pack', '--pack-destination', work], { cwd: dir, encoding: 'utf8' })
    const tarball = out.trim().split('\n').pop()
    tarballs.push(tarball.startsWith('/') ? tarball : join(work, tarball))
    const packed = execFileSync('tar', ['-xOzf', tarballs.at(-1), 'package/package.json'], { encoding: 'utf8' })
    if (/"(workspace|catalog):/.test(packed)) throw new Error(`pack-smoke: ${manifest.name} publishes a workspace: or catalog: range`)
  }
  const app = join(work, 'app')
  execFileSync('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'smoke', private: true, type: 'module' }))
  // Optional peers a user installs to use the entry points that need them (the dashboard builder).
  const optionalPeers = ['@grafana/grafana-foundation-sdk@0.0.21']
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', ...tarballs, ...optionalPeers], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] })

  // prom-client is an optional peer: every entry but the prom-client adapter must work without it, so the
  // first pass runs with prom-client absent; the adapter's entry runs after installing it.
  if (existsSync(join(app, 'node_modules', 'prom-client'))) throw new Error('pack-smoke: prom-client was installed without being asked for')
  const script = (wantAdapter) => smokeScript(packages.map(({ manifest }) => manifest), wantAdapter)
  const neutral = script(false)
  writeFileSync(join(app, 'smoke.mjs'), neutral.text)
  execFileSync(process.execPath, ['smoke.mjs'], { cwd: app, stdio: 'inherit' })
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', 'prom-client@^15'], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] })
  const adapters = script(true)
  writeFileSync(join(app, 'smoke-adapters.mjs'), adapters.text)
  execFileSync(process.execPath, ['smoke-adapters.mjs'], { cwd: app, stdio: 'inherit' })
  const n = neutral.count + adapters.count
  console.log(`pack-smoke: ${String(packages.length)} package(s), ${String(n)} entry point(s) imported from installed tarballs`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
