// Release rehearsal (pnpm test:release): the release a maintainer would make,
// against a registry on 127.0.0.1 instead of npmjs.com.
//
// 1. A copy of the repository (the files git knows, plus each package's
//    built dist/) in a temporary directory.
// 2. verdaccio on a free port of 127.0.0.1, with no uplink: @auris/* lives
//    there only, nothing of ours leaves the machine.
// 3. `changeset version` in the copy: every package gets the version its
//    changesets call for (0.x: a breaking change is a minor) and a CHANGELOG
//    with each changeset's summary; then `changeset publish` to verdaccio.
// 4. Clean projects outside the workspace install the packages by name
//    (@auris from verdaccio, everything else from the public registry):
//    each package alone (its peers must resolve and its entry points load),
//    then all of them together with the peers and tools the examples use.
//    There, every README example runs against the installed packages, and
//    type-checks with the oldest supported TypeScript and the current one,
//    in an ES module project and in a CommonJS one.
//
// The registry is stopped at the end, also on failure.
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TYPESCRIPT_MIN_COMMONJS, readmeExamples } from './readme-examples.mjs'
import { smokeScript } from './smoke-calls.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const started = Date.now()

/** The registry, installed apart (not a workspace dependency: ~330 packages only this script needs): verdaccio 6.8.0, which runs on Node 20 with node-fetch pinned to 2.7.0. */
const REGISTRY = { name: 'auris-release-registry', private: true, dependencies: { verdaccio: '6.8.0' }, overrides: { 'node-fetch': '2.7.0' } }

/** TypeScript: the oldest the READMEs promise, and the current one (the workspace catalog's). */
const catalog = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')
const catalogEntry = (name) => {
  const m = new RegExp(`^  '?${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'?: (.+)$`, 'm').exec(catalog)
  if (m === null) throw new Error(`release: no ${name} in the pnpm-workspace.yaml catalog`)
  return m[1].trim().replace(/^npm:typescript@/, '')
}
const TYPESCRIPT = { min: catalogEntry('typescript-min'), current: catalogEntry('typescript') }

const log = (line) => {
  console.log(`release [${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`)
}

/** Runs a command; its output is shown only when it fails. */
function run(command, args, options = {}) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, ...options })
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim()
    throw new Error(`release: \`${command} ${args.join(' ')}\` failed in ${options.cwd ?? process.cwd()}${output === '' ? '' : `:\n${output}`}`, { cause: error })
  }
}

const npmQuiet = ['--no-audit', '--no-fund', '--loglevel=error', '--ignore-scripts']

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(what, probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await probe()) return
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`release: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** verdaccio, installed once per version under node_modules/.cache (a clean clone installs it in ~20 s). */
function installRegistry() {
  const dir = join(root, 'node_modules', '.cache', `auris-release-registry-${REGISTRY.dependencies.verdaccio}-node-fetch-${REGISTRY.overrides['node-fetch']}`)
  const marker = join(dir, 'installed')
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'package.json'), JSON.stringify(REGISTRY, null, 2))
    run('npm', ['install', ...npmQuiet], { cwd: dir })
    writeFileSync(marker, '')
  }
  return join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
}

/** Starts verdaccio; anonymous publish of @auris/*, no uplink. */
async function startRegistry(work) {
  const bin = installRegistry()
  const dir = join(work, 'registry')
  mkdirSync(dir)
  const port = await freePort()
  // No `proxy:` anywhere: a package the registry does not hold is a 404, never a request to npmjs.com.
  writeFileSync(
    join(dir, 'config.yaml'),
    `storage: ./storage
auth:
  htpasswd:
    file: ./htpasswd
    max_users: -1
uplinks: {}
packages:
  '@auris/*':
    access: $all
    publish: $anonymous $authenticated
    unpublish: $anonymous $authenticated
  '**':
    access: $all
    publish: $authenticated
log: { type: stdout, format: pretty, level: warn }
`,
  )
  const child = spawn(process.execPath, [bin, '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${String(port)}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const url = `http://127.0.0.1:${String(port)}/`
  await waitFor(`verdaccio on ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`release: verdaccio exited:\n${output}`)
    return (await fetch(`${url}-/ping`)).ok
  }, 30_000).catch((error) => {
    child.kill('SIGKILL')
    throw new Error(`${error.message}\n${output}`)
  })
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** The repository as a clone would have it (tracked and new, non-ignored files), plus the packages' built dist/. */
function copyRepository(work) {
  const copy = join(work, 'repo')
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).split('\0').filter((f) => f !== '')
  for (const file of files) {
    const from = join(root, file)
    if (!existsSync(from)) continue // deleted in the working tree
    mkdirSync(dirname(join(copy, file)), { recursive: true })
    cpSync(from, join(copy, file))
  }
  for (const dir of packageDirs(root)) {
    const dist = join(root, 'packages', dir, 'dist')
    if (!existsSync(dist)) throw new Error(`release: packages/${dir}/dist is missing; run pnpm build`)
    cpSync(dist, join(copy, 'packages', dir, 'dist'), { recursive: true })
  }
  // From the store the workspace install filled: pnpm publish resolves workspace: ranges from the installed packages.
  run('pnpm', ['install', '--frozen-lockfile', '--prefer-offline', '--ignore-scripts'], { cwd: copy })
  return copy
}

function packageDirs(base) {
  return readdirSync(join(base, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(base, 'packages', d.name, 'package.json')))
    .map((d) => d.name)
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))

/** The published packages of a repository: dir, manifest. */
function publishable(base) {
  return packageDirs(base)
    .map((dir) => ({ dir, manifest: readJson(join(base, 'packages', dir, 'package.json')) }))
    .filter(({ manifest }) => manifest.private !== true)
}

const BUMPS = ['none', 'patch', 'minor', 'major']

/** The changesets of a repository: summary and bump per package, read from the files. */
function readChangesets(base) {
  const dir = join(base, '.changeset')
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8')
      const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text)
      if (m === null) throw new Error(`release: .changeset/${file} has no front matter`)
      const bumps = {}
      for (const line of m[1].split('\n').filter((l) => l.trim() !== '')) {
        const entry = /^['"]?([^'"]+)['"]?:\s*(patch|minor|major)\s*$/.exec(line)
        if (entry === null) throw new Error(`release: .changeset/${file}: cannot read "${line}"`)
        bumps[entry[1]] = entry[2]
      }
      return { file, bumps, summary: m[2].trim() }
    })
}

/**
 * The versions a release must produce, worked out apart from changesets: the
 * highest bump a package's changesets ask for; a package whose peer
 * dependency leaves its range gets a breaking bump, which before 1.0 is a
 * minor; a dependency bumped out of range gives a patch.
 */
function expectedVersions(packages, changesets) {
  const bump = new Map(packages.map(({ manifest }) => [manifest.name, 'none']))
  const raise = (name, to) => {
    if (BUMPS.indexOf(to) > BUMPS.indexOf(bump.get(name))) bump.set(name, to)
  }
  for (const { bumps } of changesets) for (const [name, type] of Object.entries(bumps)) raise(name, type)
  const version = (name) => {
    const [major, minor, patch] = packages.find(({ manifest }) => manifest.name === name).manifest.version.split('.').map(Number)
    const type = bump.get(name)
    if (type === 'major') return `${String(major + 1)}.0.0`
    if (type === 'minor') return `${String(major)}.${String(minor + 1)}.0`
    if (type === 'patch') return `${String(major)}.${String(minor)}.${String(patch + 1)}`
    return `${String(major)}.${String(minor)}.${String(patch)}`
  }
  for (let changed = true; changed; ) {
    changed = false
    for (const { manifest } of packages) {
      for (const [kind, deps] of [['peer', manifest.peerDependencies], ['dep', manifest.dependencies]]) {
        for (const dep of Object.keys(deps ?? {})) {
          if (!bump.has(dep) || bump.get(dep) === 'none') continue
          const was = packages.find((p) => p.manifest.name === dep).manifest.version
          const next = version(dep)
          // workspace:^ is ^<current version>: leaving it means a new minor before 1.0, a new major after.
          const leaves = was.startsWith('0.') ? next.split('.')[1] !== was.split('.')[1] || next.startsWith('1.') : next.split('.')[0] !== was.split('.')[0]
          if (!leaves && kind === 'peer' && bump.get(dep) === 'patch') continue
          const before = bump.get(manifest.name)
          if (kind === 'peer') raise(manifest.name, manifest.version.startsWith('0.') ? 'minor' : 'major')
          else if (leaves) raise(manifest.name, 'patch')
          if (bump.get(manifest.name) !== before) changed = true
        }
      }
    }
  }
  return new Map(packages.map(({ manifest }) => [manifest.name, version(manifest.name)]))
}

/** `changeset version`, then checks the versions, the CHANGELOGs and the ranges against the changeset files. */
function versionPackages(copy) {
  const before = publishable(copy)
  const changesets = readChangesets(copy)
  if (changesets.length === 0) throw new Error('release: no changeset to release')
  const expected = expectedVersions(before, changesets)
  const changeset = join(copy, 'node_modules', '@changesets', 'cli', 'bin.js')
  run(process.execPath, [changeset, 'version'], { cwd: copy })
  const after = publishable(copy)
  const left = readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')
  if (left.length > 0) throw new Error(`release: changeset version left ${left.join(', ')}`)
  for (const { dir, manifest } of after) {
    const want = expected.get(manifest.name)
    if (manifest.version !== want) throw new Error(`release: changeset version gave ${manifest.name} ${manifest.version}; its changesets call for ${want}`)
    const changelog = join(copy, 'packages', dir, 'CHANGELOG.md')
    if (!existsSync(changelog)) throw new Error(`release: no CHANGELOG.md for ${manifest.name}`)
    const text = readFileSync(changelog, 'utf8')
    if (!text.startsWith(`# ${manifest.name}\n\n## ${want}\n`)) throw new Error(`release: ${manifest.name}'s CHANGELOG does not start with ## ${want}:\n${text.slice(0, 300)}`)
    for (const { file, bumps, summary } of changesets) {
      if (!(manifest.name in bumps)) continue
      const firstLine = summary.split('\n')[0]
      if (!text.includes(firstLine)) throw new Error(`release: ${manifest.name}'s CHANGELOG misses .changeset/${file}: "${firstLine.slice(0, 80)}"`)
    }
  }
  return after
}

/** `changeset publish` to the local registry (no git tags: the copy is not a clone). */
function publish(copy, registry) {
  const host = registry.replace(/^http:/, '')
  // Anonymous publish: npm and pnpm want some token for the registry; verdaccio takes any for @auris/*.
  writeFileSync(join(copy, '.npmrc'), `@auris:registry=${registry}\n${host}:_authToken=rehearsal\n`)
  const env = { ...process.env, CI: '1', 'npm_config_@auris:registry': registry, [`npm_config_${host}:_authToken`]: 'rehearsal' }
  run(process.execPath, [join(copy, 'node_modules', '@changesets', 'cli', 'bin.js'), 'publish', '--no-git-tag'], { cwd: copy, env })
}

/** The manifest the registry serves must be one a user can install: real ranges, the fields a registry page shows. */
async function checkPublished(registry, released) {
  for (const { manifest } of released) {
    const res = await fetch(`${registry}${manifest.name.replace('/', '%2f')}`)
    if (!res.ok) throw new Error(`release: ${manifest.name} is not on the registry (HTTP ${String(res.status)})`)
    const doc = await res.json()
    const served = doc.versions?.[manifest.version]
    if (served === undefined) throw new Error(`release: ${manifest.name}@${manifest.version} is not on the registry`)
    if (doc['dist-tags']?.latest !== manifest.version) throw new Error(`release: ${manifest.name}'s latest is ${String(doc['dist-tags']?.latest)}`)
    const text = JSON.stringify(served)
    if (/"(workspace|catalog):/.test(text)) throw new Error(`release: ${manifest.name} was published with a workspace: or catalog: range`)
    for (const [peer, range] of Object.entries(served.peerDependencies ?? {})) {
      if (!peer.startsWith('@auris/')) continue
      const version = released.find((p) => p.manifest.name === peer)?.manifest.version
      if (range !== `^${String(version)}`) throw new Error(`release: ${manifest.name} asks for ${peer} ${range}; the release is ${String(version)}`)
    }
    if (typeof doc.readme !== 'string' || !doc.readme.startsWith(`# ${manifest.name}`)) throw new Error(`release: ${manifest.name} has no README on the registry`)
  }
}

/** A project outside the workspace that installs from the public registry, and @auris from the local one. */
function project(work, name, registry, type) {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }, null, 2))
  writeFileSync(join(dir, '.npmrc'), `@auris:registry=${registry}\n`)
  return dir
}

function npmInstall(dir, specs) {
  // strict-peer-deps: a peer that does not resolve is an error, not a warning.
  run('npm', ['install', ...npmQuiet, '--strict-peer-deps', ...specs], { cwd: dir })
  // Missing, invalid or extraneous dependencies (peers included) make npm ls fail.
  run('npm', ['ls', '--all'], { cwd: dir })
}

/** The installed package has every file its manifest names, and the README, licence and CHANGELOG a registry shows. */
function checkFiles(dir, manifest) {
  const paths = (value) => (typeof value === 'string' ? [value] : typeof value === 'object' && value !== null ? Object.values(value).flatMap(paths) : [])
  const wanted = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', manifest.main, manifest.types, ...paths(manifest.exports), ...(manifest.files ?? []).filter((f) => !f.startsWith('!'))]
  const missing = wanted.filter((file) => file !== undefined && !existsSync(join(dir, file)))
  if (missing.length > 0) throw new Error(`release: ${manifest.name} was published without ${missing.join(', ')}`)
  const shipped = run('find', ['.', '-type', 'f', '-name', '*.test.*', '-o', '-type', 'd', '-name', '__fixtures__'], { cwd: dir }).trim()
  if (shipped !== '') throw new Error(`release: ${manifest.name} was published with tests:\n${shipped}`)
}

/** Each package alone: npm installs its required peers; every entry point that needs no optional peer loads. */
function installAlone(work, registry, released) {
  for (const { manifest } of released) {
    const dir = project(work, `alone-${manifest.name.split('/')[1]}`, registry, 'module')
    npmInstall(dir, [`${manifest.name}@${manifest.version}`])
    const optional = Object.keys(manifest.peerDependenciesMeta ?? {}).filter((peer) => manifest.peerDependenciesMeta[peer].optional === true)
    for (const peer of optional) if (existsSync(join(dir, 'node_modules', peer))) throw new Error(`release: installing ${manifest.name} alone installed its optional peer ${peer}`)
    for (const peer of Object.keys(manifest.peerDependencies ?? {})) {
      if (!optional.includes(peer) && !existsSync(join(dir, 'node_modules', peer, 'package.json'))) throw new Error(`release: installing ${manifest.name} alone did not install its peer ${peer}`)
    }
    const installed = readJson(join(dir, 'node_modules', manifest.name, 'package.json'))
    checkFiles(join(dir, 'node_modules', manifest.name), installed)
    const { text } = smokeScript([installed], false)
    // The dashboard builder needs the Grafana SDK: alone, it must say how to install it.
    const script = text.replace(/\{ const mod = await import\("@auris\/prom-exporter\/dashboard"\)[\s\S]*?\n\s*console\.log\('  ok @auris\/prom-exporter\/dashboard'\) \}/, `{ const error = await import('@auris/prom-exporter/dashboard').then(() => null, (e) => e)
      assert(error !== null && error.message.includes('npm install @grafana/grafana-foundation-sdk'), 'dashboard without the SDK: ' + String(error?.message))
      console.log('  ok @auris/prom-exporter/dashboard says how to install the SDK') }`)
    writeFileSync(join(dir, 'smoke.mjs'), script)
    run(process.execPath, ['smoke.mjs'], { cwd: dir })
    log(`${manifest.name}@${manifest.version} alone: installed with its peers, entry points load`)
  }
}

/** The packages the examples import that are not ours, at the versions the workspace tests with. */
function thirdParty(specs) {
  const version = (name) => {
    return `${name}@${catalogEntry(name)}`
  }
  return specs.map(version)
}

/** Runs an example; one that serves HTTP must answer on PORT, then is stopped. */
async function runExample(dir, file, example) {
  const port = await freePort()
  const env = { ...process.env, AURIS_METRICS_EXP: 'on', PORT: String(port) }
  delete env.METRICS_TOKEN
  if (!example.serves) {
    run(process.execPath, [file], { cwd: dir, env, timeout: 60_000 })
    return
  }
  const child = spawn(process.execPath, [file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await waitFor(`${example.name} to serve ${example.serves}`, async () => {
      if (child.exitCode !== null) throw new Error(`exited with ${String(child.exitCode)}`)
      const res = await fetch(`http://127.0.0.1:${String(port)}${example.serves}`)
      await res.arrayBuffer()
      return res.status === 200
    }, 30_000)
  } catch (error) {
    throw new Error(`release: ${example.name}: ${error.message}\n${output}`)
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

/** tsc of a given version over a directory's tsconfig.json: whether it passed, its diagnostics. */
function typecheck(dir, compiler, flags = []) {
  const tsc = join(dir, 'node_modules', compiler, 'bin', 'tsc')
  const version = readJson(join(dir, 'node_modules', compiler, 'package.json')).version
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.json', ...flags], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.once('close', (code) => resolve({ ok: code === 0, output, version }))
  })
}

/** Runs the tasks, `n` at a time; the results in task order. */
async function pool(tasks, n) {
  const results = []
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }
  await Promise.all(Array.from({ length: n }, worker))
  return results
}

/**
 * All packages together with the peers and tools the examples use: every
 * README example runs, and type-checks with both TypeScript versions, as an
 * ES module and (imports hoisted, the rest in an async function) as
 * CommonJS.
 */
async function installTogether(work, registry, released) {
  // The push example talks to a Pushgateway at 127.0.0.1:9091: a real one (Debian's, as in prom-exporter's README
  // test) runs on a free port for the examples, and the example's address is pointed at it.
  const gateway = await startPushgateway(work)
  try {
    await runTogether(work, registry, released, gateway.url)
  } finally {
    await gateway.stop()
  }
}

/** Debian's `prometheus-pushgateway` on a free port of 127.0.0.1, without persistence. */
async function startPushgateway(work) {
  const port = await freePort()
  const url = `http://127.0.0.1:${String(port)}`
  const child = spawn('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${String(port)}`, '--persistence.file=', '--log.level=warn'], { cwd: work, stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const failed = new Promise((_resolve, reject) => child.once('error', (error) => reject(new Error(`release: prometheus-pushgateway could not start (${error.message}); install the Debian package "prometheus-pushgateway"`))))
  await Promise.race([failed, waitFor('the Pushgateway to be ready', async () => (await fetch(`${url}/-/ready`)).ok, 30_000)])
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

async function runTogether(work, registry, released, gatewayUrl) {
  const pointed = (code) => code.replaceAll("'http://127.0.0.1:9091'", JSON.stringify(gatewayUrl))
  const examples = readmeExamples(root).map((example) => ({ ...example, code: pointed(example.code), commonjs: example.commonjs === null ? null : pointed(example.commonjs) }))
  const imported = new Set(examples.flatMap((e) => e.imports))
  const ours = released.map(({ manifest }) => `${manifest.name}@${manifest.version}`)
  const theirs = thirdParty([...imported].filter((name) => !name.startsWith('@auris/')).sort())
  const optionalPeers = thirdParty(['prom-client', '@grafana/grafana-foundation-sdk'].filter((name) => !imported.has(name)))
  const tools = [
    `typescript@${TYPESCRIPT.current}`,
    `typescript-min@npm:typescript@${TYPESCRIPT.min}`,
    `typescript-min-commonjs@npm:typescript@${TYPESCRIPT_MIN_COMMONJS}`,
    ...thirdParty(['@types/node']),
  ]

  const esm = project(work, 'together-esm', registry, 'module')
  npmInstall(esm, [...ours, ...theirs, ...optionalPeers, ...tools])
  const { text: neutral } = smokeScript(released.map(({ manifest }) => manifest), false)
  const { text: adapters } = smokeScript(released.map(({ manifest }) => manifest), true)
  writeFileSync(join(esm, 'smoke.mjs'), neutral)
  writeFileSync(join(esm, 'smoke-adapters.mjs'), adapters)
  run(process.execPath, ['smoke.mjs'], { cwd: esm })
  run(process.execPath, ['smoke-adapters.mjs'], { cwd: esm })
  log(`together: ${String(ours.length)} packages with ${[...theirs, ...optionalPeers].join(', ')}; every entry point works`)

  // ES module project: each example a .ts module of its own, as a reader copies one block.
  mkdirSync(join(esm, 'src'))
  for (const example of examples) writeFileSync(join(esm, 'src', `${example.name}.ts`), example.code)
  const compilerOptions = { strict: true, target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], outDir: 'out', rootDir: 'src', skipLibCheck: false }
  writeFileSync(join(esm, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['src'] }, null, 2))

  // CommonJS project (type commonjs, module nodenext), on the same installed packages: require() of the ES module packages.
  const cjs = project(work, 'together-cjs', registry, 'commonjs')
  symlinkSync(join(esm, 'node_modules'), join(cjs, 'node_modules'), 'dir')
  mkdirSync(join(cjs, 'src'))
  const wrapped = examples.filter((example) => example.commonjs !== null)
  for (const example of wrapped) writeFileSync(join(cjs, 'src', `${example.name}.ts`), example.commonjs)
  writeFileSync(join(cjs, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['src'] }, null, 2))

  // Two compilers at a time; the current one also emits the JavaScript that runs below.
  const [esmMin, esmCurrent, cjsMin, cjsCurrent, cjsOlder] = await pool(
    [
      () => typecheck(esm, 'typescript-min', ['--noEmit']),
      () => typecheck(esm, 'typescript'),
      () => typecheck(cjs, 'typescript-min-commonjs', ['--noEmit']),
      () => typecheck(cjs, 'typescript'),
      () => typecheck(cjs, 'typescript-min', ['--noEmit']),
    ],
    2,
  )
  for (const [result, what] of [[esmMin, 'ES modules'], [esmCurrent, 'ES modules'], [cjsMin, 'CommonJS'], [cjsCurrent, 'CommonJS']]) {
    if (!result.ok) throw new Error(`release: the README examples (${what}) do not type-check with TypeScript ${result.version}:\n${result.output}`)
  }
  // The release before the CommonJS minimum must fail, and only for require() of an ES module: else the stated minimum is not the true one.
  const codes = new Set(cjsOlder.output.match(/error TS\d+/g) ?? [])
  if (cjsOlder.ok || codes.size !== 1 || !codes.has('error TS1479')) {
    throw new Error(`release: TypeScript ${TYPESCRIPT.min} should reject the CommonJS project with TS1479 only (so ${TYPESCRIPT_MIN_COMMONJS} is the minimum there); it gave:\n${cjsOlder.output.slice(0, 2000)}`)
  }
  log(`${String(examples.length)} README examples type-check as ES modules with TypeScript ${TYPESCRIPT.min} and ${TYPESCRIPT.current}; as CommonJS with ${TYPESCRIPT_MIN_COMMONJS} and ${TYPESCRIPT.current} (${TYPESCRIPT.min}: TS1479 only)`)

  for (const example of examples) await runExample(esm, join('out', `${example.name}.js`), example)
  log(`${String(examples.length)} README examples run against the installed packages`)

  // Every example again as CommonJS, metrics-http's included: there require('hono') is hono's CommonJS build while
  // metrics-http (an ES module) imports hono's ES module build, two copies of hono in one app, which its routes serve.
  for (const example of wrapped) await runExample(cjs, join('out', `${example.name}.js`), example)
  // The dashboard entry awaits the Grafana SDK as it loads: require() refuses it, import() works, as its README says.
  writeFileSync(
    join(cjs, 'dashboard.cjs'),
    `const assert = (ok, what) => { if (!ok) throw new Error('dashboard from CommonJS: ' + what) }
let code = 'loaded'
try { require('@auris/prom-exporter/dashboard') } catch (error) { code = error.code }
assert(code === 'ERR_REQUIRE_ASYNC_MODULE', 'require() gave ' + code)
import('@auris/prom-exporter/dashboard').then((mod) => assert(mod.buildDashboard({ uid: 'x' }).uid === 'x', 'import()'))
`,
  )
  run(process.execPath, ['dashboard.cjs'], { cwd: cjs })
  log(`${String(wrapped.length)} README examples (of ${String(examples.length)}; metrics-http's included) run as CommonJS, require()ing the ES module packages; /dashboard loads with import()`)
}

const work = mkdtempSync(join(tmpdir(), 'auris-release-'))
let registry
let failed = false
try {
  log('build')
  run('pnpm', ['run', 'build'], { cwd: root })
  const copy = copyRepository(work)
  log(`copy of the repository in ${copy}`)
  registry = await startRegistry(work)
  log(`verdaccio on ${registry.url} (no uplink)`)
  const released = versionPackages(copy)
  log(`changeset version: ${released.map(({ manifest }) => `${manifest.name}@${manifest.version}`).join(', ')}; CHANGELOGs hold every changeset`)
  publish(copy, registry.url)
  await checkPublished(registry.url, released)
  log('changeset publish: every package on the local registry, with real ranges and its README')
  installAlone(work, registry.url, released)
  await installTogether(work, registry.url, released)
} catch (error) {
  failed = true
  console.error(error instanceof Error ? error.message : error)
} finally {
  if (registry !== undefined) {
    await registry.stop()
    log('verdaccio stopped')
  }
  if (process.env.AURIS_RELEASE_KEEP === undefined) rmSync(work, { recursive: true, force: true })
  else log(`kept ${work}`)
}
log(failed ? 'FAILED' : `passed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
process.exitCode = failed ? 1 : 0
