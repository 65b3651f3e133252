// @ts-check
/**
 * Cost of the score histogram: the tick with and without `scoreBuckets`,
 * and, with `--base <git-ref>`, the tick without against this package as it
 * was at that commit (built into node_modules/.cache/bench-base, as
 * bench/transitions.js does), so "without the option a tick costs what it
 * cost before the histogram existed" is a ratio measured in one run. Each
 * case runs in a fresh process; the cases alternate, `--rounds` times
 * (default 3), and the table shows the median of the rounds' medians.
 *
 *   node bench/histogram.js [--base <git-ref>] [--rounds 3]
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const pkg = join(here, '..')
const repo = join(pkg, '..', '..')
const script = join(here, 'transition-cases.js')
const args = process.argv.slice(2)
const option = (name) => {
  const i = args.indexOf(name)
  return i < 0 ? undefined : args[i + 1]
}
const baseRef = option('--base')
const rounds = Number(option('--rounds') ?? 3)

/** Builds the package's sources at `ref` into bench/.base/dist with the package's own compiler settings. */
function buildBase(ref) {
  // Under node_modules: ignored by git and lint, and @types/node resolves from there.
  const dir = join(pkg, 'node_modules', '.cache', 'bench-base')
  rmSync(dir, { recursive: true, force: true })
  const files = execFileSync('git', ['ls-tree', '-r', '--name-only', ref, '--', 'packages/stability-core/src'], { cwd: repo, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('/adapter/') && !f.includes('__fixtures__'))
  for (const file of files) {
    const target = join(dir, 'src', file.slice('packages/stability-core/src/'.length))
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, execFileSync('git', ['show', `${ref}:${file}`], { cwd: repo, maxBuffer: 1 << 26 }))
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: [join(repo, 'tsconfig.base.json'), join(repo, 'tooling/tsconfig/build.json')], compilerOptions: { types: ['node'] } }),
  )
  execFileSync(process.execPath, [join(pkg, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' })
  return join(dir, 'dist', 'index.js')
}

const current = join(pkg, 'dist', 'index.js')
const base = baseRef === undefined ? undefined : buildBase(baseRef)

/** @param {string} name @param {string} entry */
function measure(name, entry) {
  const out = execFileSync(process.execPath, [script, name, entry], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop() ?? '{}')
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const plain = ['tick', 'registry-tick', 'registry-handle-tick']
/** @type {Record<string, number[]>} */
const samples = {}
const add = (key, ns) => {
  ;(samples[key] ??= []).push(ns)
}
for (let r = 0; r < rounds; r++) {
  for (const name of plain) {
    add(name, measure(name, current).p50Ns)
    if (base !== undefined) add(`${name}@base`, measure(name, base).p50Ns)
    add(`${name}-histogram`, measure(`${name}-histogram`, current).p50Ns)
    process.stderr.write(`  round ${String(r + 1)}: ${name} done\n`)
  }
}
const ns = (key) => (samples[key] === undefined ? Number.NaN : median(samples[key]))
const cell = (x) => (Number.isNaN(x) ? '–' : x.toFixed(2))
const lines = [
  `Node ${process.version}, ${process.platform}/${process.arch}; median of ${String(rounds)} rounds of per-process medians (ns per tick).` +
    (baseRef === undefined ? '' : ` Base: \`${baseRef}\`.`),
  '',
  '| loop | before the histogram (ns) | without `scoreBuckets` (ns) | ratio without / before | with `DEFAULT_SCORE_BUCKETS` (ns) | ratio with / without |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...plain.map((name) => {
    const before = ns(`${name}@base`)
    const now = ns(name)
    const histogram = ns(`${name}-histogram`)
    return `| \`${name}\` | ${cell(before)} | ${cell(now)} | ${cell(now / before)} | ${cell(histogram)} | ${cell(histogram / now)} |`
  }),
]
console.log(lines.join('\n'))
