import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

/**
 * Runs the real CLI (and the real API Extractor) on a throw-away workspace
 * with one package of two entry points, the layout of packages/*: check
 * mode passes on committed reports, fails on a changed API, an undocumented
 * export, a surviving @internal name, a forgotten export and a README
 * without the reference link; --update rewrites the reports.
 */

const cli = fileURLToPath(new URL('./cli.js', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'auris-api-report-'))
const pkg = join(root, 'packages', 'demo')
afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

const REFERENCE = 'https://example.test/api/'
writeFileSync(join(root, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n')
writeFileSync(join(root, 'typedoc.json'), `{\n  // comments are allowed, as in the real one\n  "hostedBaseUrl": "${REFERENCE}"\n}\n`)
mkdirSync(join(pkg, 'dist'), { recursive: true })
writeFileSync(
  join(pkg, 'package.json'),
  JSON.stringify({
    name: '@demo/pkg',
    type: 'module',
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './extra': { types: './dist/extra.d.ts', default: './dist/extra.js' },
      './package.json': './package.json',
    },
  }),
)
writeFileSync(join(pkg, 'tsconfig.build.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, types: [] } }))
writeFileSync(join(pkg, 'README.md'), `# demo\n\nSee the [API reference](${REFERENCE}).\n`)

const INDEX = `/** Options of {@link start}. */
export interface StartOptions {
    /** How many. */
    count?: number;
}
/** Starts. */
export declare function start(options?: StartOptions): number;
`
// The sub-entry returns a type that only the root entry exports: not a forgotten export.
const EXTRA = `import type { StartOptions } from './index.js';
/** The defaults. */
export declare const DEFAULTS: StartOptions;
`

function write(index: string, extra = EXTRA): void {
  writeFileSync(join(pkg, 'dist', 'index.d.ts'), index)
  writeFileSync(join(pkg, 'dist', 'extra.d.ts'), extra)
}

function run(...args: string[]): { code: number; output: string } {
  try {
    const out = execFileSync(process.execPath, [cli, ...args], { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    return { code: 0, output: out }
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string }
    return { code: e.status, output: e.stdout + e.stderr }
  }
}

describe('auris-api-report', () => {
  it('writes one report per entry point with --update, then checks clean', () => {
    write(INDEX)
    expect(run('--update')).toEqual({ code: 0, output: '@demo/pkg: 2 API reports written\n' })
    expect(readFileSync(join(pkg, 'etc', 'index.api.md'), 'utf8')).toContain('export function start(options?: StartOptions): number;')
    expect(readFileSync(join(pkg, 'etc', 'extra.api.md'), 'utf8')).toContain('export const DEFAULTS: StartOptions;')
    expect(run()).toEqual({ code: 0, output: '@demo/pkg: 2 API reports up to date\n' })
  })

  it('fails on a changed API, a report of an entry point no longer in `exports` and a README without the reference link', () => {
    write(`${INDEX}/** Finishes. */\nexport declare function finish(): void;\n`)
    writeFileSync(join(pkg, 'etc', 'gone.api.md'), 'stale\n')
    writeFileSync(join(pkg, 'README.md'), '# demo\n')
    const check = run()
    expect(check.code).toBe(1)
    expect(check.output).toContain('@demo/pkg (index): etc/index.api.md is out of date with the public API')
    expect(check.output).toContain('  + export function finish(): void;')
    expect(check.output).toContain('@demo/pkg: etc/gone.api.md reports an entry point that is no longer in "exports"')
    expect(check.output).toContain(`@demo/pkg: README.md has no link to the API reference (${REFERENCE}`)
    // The report of the unchanged entry point is not flagged.
    expect(check.output).not.toContain('(extra)')
  })

  it('fails on an undocumented export, a surviving @internal declaration and a forgotten export; --update drops stale reports', () => {
    writeFileSync(join(pkg, 'README.md'), `See the [API reference](${REFERENCE}).\n`)
    // tsc ends a declaration file that keeps a non-exported declaration with `export {}`: without it, everything is exported.
    write(
      `${INDEX}export declare const bare: number;\n/** @internal */\nexport declare const _hidden: number;\n`,
      `/** Unexported. */\ninterface Hidden {\n    /** A. */\n    a: number;\n}\n/** Uses it. */\nexport declare const DEFAULTS: Hidden;\nexport {};\n`,
    )
    const update = run('--update')
    expect(update.code).toBe(1)
    expect(update.output).toContain('Missing documentation for "bare". (ae-undocumented)')
    expect(update.output).toContain('etc/index.api.md names an @internal declaration')
    expect(update.output).toContain('The symbol "Hidden" needs to be exported by the entry point extra.d.ts (ae-forgotten-export)')
    expect(existsSync(join(pkg, 'etc', 'gone.api.md'))).toBe(false)
    // The reports are rewritten all the same, so the findings can be fixed against the new API.
    expect(readFileSync(join(pkg, 'etc', 'index.api.md'), 'utf8')).toContain('export const bare: number;')
  })
})
