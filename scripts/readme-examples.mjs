// The README examples of the published packages, as the release rehearsal
// runs them against installed packages: every TypeScript block of the
// stability-core, fab-hook and prom-exporter READMEs (each a module of its
// own, as their readme.test.ts run them against the sources), and the
// metrics-http README's Node fixtures (the files under
// runtime-tests/fixtures/ its blocks show, as runtime-tests run them; the
// Bun, Deno and Workers ones need their runtime and run in pnpm
// test:runtimes).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Packages whose README TypeScript blocks are examples, each a module of its own. */
const BLOCK_READMES = ['stability-core', 'fab-hook', 'prom-exporter']

/** The metrics-http fixtures that run on Node. */
const NODE_FIXTURE = /^runtime-tests\/fixtures\/[\w-]+\.mjs$/

/**
 * @typedef {object} Example
 * @property {string} name a file name stem: `<package>-<n>` or `metrics-http-<fixture>`
 * @property {string} code the example as a reader copies it (an ES module)
 * @property {string | null} commonjs the same code for a CommonJS file: imports first, the rest in an async function
 * @property {string[]} imports the packages it imports
 * @property {string | undefined} serves the path that answers 200 once it serves HTTP on PORT, if it is a server
 */

/** @returns {Example[]} */
export function readmeExamples(root) {
  const examples = []
  for (const pkg of BLOCK_READMES) {
    const readme = readFileSync(join(root, 'packages', pkg, 'README.md'), 'utf8')
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    if (blocks.length === 0) throw new Error(`readme-examples: no TypeScript block in packages/${pkg}/README.md`)
    blocks.forEach((code, i) => examples.push(example(`${pkg}-${String(i + 1)}`, code)))
  }
  const readme = readFileSync(join(root, 'packages', 'metrics-http', 'README.md'), 'utf8')
  const fixtures = [...readme.matchAll(/<!-- fixture: ([^ ]+) -->\n```/g)].map((m) => m[1]).filter((f) => NODE_FIXTURE.test(f))
  if (fixtures.length === 0) throw new Error('readme-examples: no Node fixture in packages/metrics-http/README.md')
  for (const file of fixtures) {
    const name = `metrics-http-${file.split('/').pop().replace(/\.mjs$/, '')}`
    examples.push(example(name, readFileSync(join(root, file), 'utf8')))
  }
  return examples
}

function example(name, code) {
  const imports = new Set()
  for (const m of code.matchAll(/(?:\bfrom|^import|\bimport\()\s*['"]([^'"]+)['"]/gm)) {
    const spec = m[1]
    if (spec.startsWith('.') || spec.startsWith('node:')) continue
    imports.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0])
  }
  return { name, code, commonjs: commonjs(code), imports: [...imports], serves: /\bserve\(/.test(code) ? '/metrics/exp' : undefined }
}

/** The module as CommonJS: the static imports stay on top, the rest runs in an async function (no top-level await in CommonJS). */
function commonjs(code) {
  const imports = []
  const body = code.replace(/^import\s[\s\S]*?['"][^'"]+['"]\n/gm, (statement) => {
    imports.push(statement)
    return ''
  })
  if (/^export\s/m.test(body)) return null
  return `${imports.join('')}\nvoid (async (): Promise<void> => {\n${body}\n})().catch((error: unknown) => {\n  console.error(error)\n  process.exitCode = 1\n})\n`
}

/**
 * The oldest TypeScript for a CommonJS project (`"module": "nodenext"`),
 * which require()s our ES modules: 5.8 allows that, 5.7 answers TS1479 (as
 * does `"module": "node16"` in any release). ES module projects need the
 * catalog's `typescript-min`. The READMEs state both; the release rehearsal
 * type-checks with both and with the current release.
 */
export const TYPESCRIPT_MIN_COMMONJS = '5.8.3'
