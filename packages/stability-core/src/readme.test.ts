import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it, vi } from 'vitest'

/**
 * Runs the code blocks of the README's "Transitions, pins and run-time
 * config" section as written (the package import pointed at the sources)
 * and checks what they print against the README's comments.
 */

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const start = readme.indexOf('## Transitions, pins and run-time config')
const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
const entry = pathToFileURL(fileURLToPath(new URL('./index.ts', import.meta.url))).href
const dir = mkdtempSync(join(tmpdir(), 'auris-readme-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

async function run(i: number): Promise<string[]> {
  const file = join(dir, `block-${String(i)}.ts`)
  writeFileSync(file, (blocks[i] as string).replaceAll("'@auris/stability-core'", `'${entry}'`))
  const lines: string[] = []
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
  })
  try {
    await import(pathToFileURL(file).href)
  } finally {
    spy.mockRestore()
  }
  return lines
}

describe('README: transitions, pins and run-time config', () => {
  it('has the five examples', () => {
    expect(blocks).toHaveLength(5)
  })

  it('events', async () => {
    expect(await run(0)).toEqual([
      'stream recommended FAB2->FAB1 cooldown  0.5 1',
      'stream held FAB2->FAB1 cooldown dwell 0.5 1',
      'stream recommended FAB1->FAB0 cooldown  0.25 2',
      'stream effective FAB2->FAB0 cooldown  0.25 2',
      '0',
    ])
  })

  it('pins', async () => {
    expect(await run(1)).toEqual(['{"mode":"FAB0","untilMs":30000,"remainingMs":30000}', 'FAB2 null'])
  })

  it('per-direction dwell', async () => {
    expect(await run(2)).toEqual(['FAB0', 'FAB0 FAB0 FAB2'])
  })

  it('config per window', async () => {
    expect(await run(3)).toEqual([
      JSON.stringify({
        dwellTicks: 20,
        upgradeDwellTicks: 200,
        downgradeDwellTicks: 2,
        rateLimitTicks: 1000,
        oscWindow: 300,
        maxHistory: 5000,
        rateWindowMs: 60000,
        initialMode: 'FAB2',
      }),
      'Hysteresis: option "dwellTicks" must be an integer in [0, 1000000000000]; got -1',
      JSON.stringify([
        { match: 'gpu-*', hysteresis: { downgradeDwellTicks: 2, upgradeDwellTicks: 200 } },
        { match: 'cpu', hysteresis: { rateLimitTicks: 100 } },
      ]),
    ])
  })

  it('score histogram', async () => {
    const lines = await run(4)
    expect(lines.slice(0, 2)).toEqual([
      JSON.stringify({ buckets: [0.25, 0.5, 1], counts: [1, 2, 4, 4], sum: 2.5, count: 4 }),
      JSON.stringify([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    ])
    expect(lines[2]).toMatch(/^StabilityWindows\.configure: option "tracker\.scoreBuckets" must be absent: every window shares the registry's buckets, /)
    expect(lines).toHaveLength(3)
  })
})
