import { evaluateReadiness } from '@auris/metrics-http'
import { StabilityWindows } from '@auris/stability-core'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

/**
 * The metrics-http README, block by block: every code block is a fixture
 * the runtime suite runs (or a shape this test checks), every install line
 * lists what its example imports plus the peers those packages need, and
 * every example type-checks as `.mts` under `tsc --strict` with the oldest
 * TypeScript the README promises and with the current one.
 */

const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = join(root, 'fixtures')
const readme = readFileSync(join(root, '..', 'packages', 'metrics-http', 'README.md'), 'utf8')

interface Block {
  marker: string | undefined
  lang: string
  code: string
}

/** Every fenced block, with the HTML comment right above it. */
function blocks(markdown: string): Block[] {
  const found: Block[] = []
  const re = /(?:<!-- ([^>]*) -->\n)?```(\w*)\n([\s\S]*?)```/g
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) found.push({ marker: m[1], lang: m[2] ?? '', code: m[3] ?? '' })
  return found
}

const BLOCKS = blocks(readme)
const FIXTURES = BLOCKS.filter((b) => b.marker?.startsWith('fixture: ')).map((b) => (b.marker as string).slice('fixture: runtime-tests/fixtures/'.length))
const EXAMPLES = FIXTURES.filter((f) => /\.(mjs|ts)$/.test(f))

/** The packages a file imports (bare specifiers, reduced to the package name). */
function imports(code: string): string[] {
  const names = new Set<string>()
  for (const m of code.matchAll(/^import [^'"]*['"]([^'"]+)['"]/gm)) {
    const spec = m[1] as string
    if (spec.startsWith('.') || spec.startsWith('node:')) continue
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string))
  }
  return [...names]
}

/** `names` and the peers they need (not the optional ones), transitively, from the installed manifests. */
function withPeers(names: string[]): string[] {
  const all = new Set<string>()
  const visit = (name: string): void => {
    if (all.has(name)) return
    all.add(name)
    // Every package the examples import is a dependency of this workspace package.
    const manifest = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      peerDependencies?: Record<string, string>
      peerDependenciesMeta?: Record<string, { optional?: boolean }>
    }
    for (const peer of Object.keys(manifest.peerDependencies ?? {})) if (manifest.peerDependenciesMeta?.[peer]?.optional !== true) visit(peer)
  }
  for (const name of names) visit(name)
  return [...all].sort()
}

describe('the metrics-http README', () => {
  it('has no code block that is not a fixture, an install line or a checked shape', () => {
    for (const block of BLOCKS) expect(block.marker, block.code.slice(0, 60)).toMatch(/^(fixture: runtime-tests\/fixtures\/|install: |shape: readiness report$)/)
    expect(FIXTURES.sort()).toEqual(['bun.ts', 'deno.ts', 'k8s-probes.yaml', 'node.mjs', 'readiness.mjs', 'usage.mjs', 'worker.ts', 'wrangler.toml'])
  })

  it('shows exactly the fixtures the suite runs', () => {
    for (const file of FIXTURES) {
      const code = readFileSync(join(fixtures, file), 'utf8')
      const lang = file.endsWith('.toml') ? 'toml' : file.endsWith('.yaml') ? 'yaml' : file.endsWith('.mjs') ? 'js' : 'ts'
      expect(readme, `README block for fixtures/${file}`).toContain(`<!-- fixture: runtime-tests/fixtures/${file} -->\n\`\`\`${lang}\n${code}\`\`\``)
    }
  })

  it('states the Deno permissions the example runs with', () => {
    const permissions = /\(run with ((?:--allow-[a-z]+ ?)+)\)/.exec(readFileSync(join(fixtures, 'deno.ts'), 'utf8'))?.[1]
    expect(permissions).toBe('--allow-net --allow-env --allow-read')
    expect(readme).toContain(`\`deno run ${permissions as string}\``)
  })

  it('lists in each install line what the example imports, and the peers of those', () => {
    const installs = BLOCKS.filter((b) => b.marker?.startsWith('install: '))
    expect(installs.map((b) => b.marker)).toEqual(['install: @auris/metrics-http', ...EXAMPLES.map((f) => `install: runtime-tests/fixtures/${f}`)])
    for (const block of installs) {
      const listed = /^npm install ((?:[@\w./-]+ ?)+)\n$/.exec(block.code)?.[1]?.trim().split(' ')
      expect(listed, block.marker).toBeDefined()
      const target = (block.marker as string).slice('install: '.length)
      const wanted = target.startsWith('@') ? withPeers([target]) : withPeers(imports(readFileSync(join(root, '..', target), 'utf8')))
      expect([...(listed as string[])].sort(), block.marker).toEqual(wanted)
    }
  })

  it('shows a readiness body with the fields and types the route answers with', () => {
    const shown = JSON.parse((BLOCKS.find((b) => b.marker === 'shape: readiness report') as Block).code) as Record<string, unknown>
    const windows = new StabilityWindows()
    windows.tick('global', 0.1, true)
    const real = evaluateReadiness({ windows, tickMs: 100 })
    const shape = (value: unknown): unknown =>
      Array.isArray(value) ? value.map(shape) : typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)])) : typeof value
    expect(shape(shown)).toEqual(shape({ status: real.status, windows: real.windows }))
  })
})

describe('the README examples type-check as .mts under tsc --strict', () => {
  const dir = join(root, '.typecheck')
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  /** Compiler settings per runtime: its own type package, and that runtime's usual module settings. */
  const SETTINGS: Record<string, Record<string, unknown>> = {
    node: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'] },
    // Bun's template: ESNext, bundler resolution, skipLibCheck (bun-types and @types/node overlap).
    bun: { target: 'ESNext', lib: ['ESNext'], module: 'Preserve', moduleResolution: 'bundler', types: ['bun'], skipLibCheck: true },
    deno: { target: 'ESNext', lib: ['ESNext', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', types: ['deno'] },
    // Workers: no Node types at all.
    worker: { target: 'ES2022', lib: ['ES2022', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', types: [] },
  }
  const runtimeOf = (file: string): string => (file.startsWith('bun') ? 'bun' : file.startsWith('deno') ? 'deno' : file.startsWith('worker') ? 'worker' : 'node')

  const compilers: [string, string][] = [
    ['the oldest supported (5.7)', join(root, 'node_modules', 'typescript-min', 'bin', 'tsc')],
    ['the current one', join(root, 'node_modules', 'typescript', 'bin', 'tsc')],
  ]

  it('uses TypeScript 5.7.x as the oldest, as the README states', () => {
    expect(readme).toContain('Types need TypeScript 5.7\nor later')
    const version = (JSON.parse(readFileSync(join(root, 'node_modules', 'typescript-min', 'package.json'), 'utf8')) as { version: string }).version
    expect(version).toMatch(/^5\.7\./)
  })

  it.each(compilers)('with %s', (_label, tsc) => {
    expect(EXAMPLES.length).toBe(6)
    const byRuntime = new Map<string, string[]>()
    for (const file of EXAMPLES) byRuntime.set(runtimeOf(file), [...(byRuntime.get(runtimeOf(file)) ?? []), file])
    for (const [runtime, files] of byRuntime) {
      const sub = join(dir, runtime)
      rmSync(sub, { recursive: true, force: true })
      mkdirSync(sub, { recursive: true })
      const names = files.map((file) => {
        const name = file.replace(/\.(mjs|ts)$/, '.mts')
        writeFileSync(join(sub, name), readFileSync(join(fixtures, file), 'utf8'))
        return name
      })
      writeFileSync(join(sub, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, ...SETTINGS[runtime] }, files: names }))
      const run = spawnSync(process.execPath, [tsc, '-p', join(sub, 'tsconfig.json')], { cwd: sub, encoding: 'utf8' })
      expect(`${run.stdout}${run.stderr}`, `${files.join(', ')} (${runtime})`).toBe('')
      expect(run.status, runtime).toBe(0)
    }
  })
})
