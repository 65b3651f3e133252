import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it, vi } from 'vitest'

/** Runs the README's "Steering" block as written (the package import pointed at the sources) and checks what it prints. */

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const start = readme.indexOf('## Steering')
const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
const entry = pathToFileURL(fileURLToPath(new URL('./index.ts', import.meta.url))).href
// The block is written outside the package, so its imports are pointed at resolved files.
const core = pathToFileURL(createRequire(import.meta.url).resolve('@auris/stability-core')).href
const dir = mkdtempSync(join(tmpdir(), 'auris-hook-readme-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('README: steering', () => {
  it('runs as written and prints what its comments say', async () => {
    expect(blocks).toHaveLength(1)
    const file = join(dir, 'steering.ts')
    writeFileSync(file, (blocks[0] as string).replaceAll("'@auris/fab-hook'", `'${entry}'`).replaceAll("'@auris/stability-core'", `'${core}'`))
    const lines: string[] = []
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '))
    })
    try {
      await import(pathToFileURL(file).href)
    } finally {
      spy.mockRestore()
    }
    expect(lines).toEqual([
      'dry-run would apply FAB2',
      'dry-run would apply FAB1',
      'FAB1',
      'dry-run would apply FAB0',
      'FAB0',
      'dry-run would apply FAB0',
      'FAB0 2 0',
    ])
  })
})
