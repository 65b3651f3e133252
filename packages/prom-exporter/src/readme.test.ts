import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startPushgateway, type Pushgateway } from '@auris/test-support/pushgateway'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { listGroups } from './push.js'

/**
 * Runs every TypeScript block of the README as written, each as a module of
 * its own (a reader copies one block, not the page): the package's imports
 * are pointed at the sources, the other packages at the resolved ones.
 */

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
const source = (file: string): string => pathToFileURL(fileURLToPath(new URL(`./${file}`, import.meta.url))).href
const resolve = (name: string): string => pathToFileURL(createRequire(import.meta.url).resolve(name)).href
const IMPORTS: Record<string, string> = {
  '@auris/prom-exporter': source('index.ts'),
  '@auris/prom-exporter/setup': source('setup.ts'),
  '@auris/prom-exporter/prom-client': source('prom-client.ts'),
  '@auris/prom-exporter/push': source('push.ts'),
  '@auris/stability-core': resolve('@auris/stability-core'),
  'prom-client': resolve('prom-client'),
  yaml: resolve('yaml'),
}
const dir = mkdtempSync(join(tmpdir(), 'auris-exporter-readme-'))
// The push block talks to a real Pushgateway, started here on a free port.
let gateway: Pushgateway | undefined
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  vi.unstubAllEnvs()
  await gateway?.stop()
})

async function run(block: string, name: string): Promise<void> {
  const file = join(dir, `${name}.ts`)
  // The rules block writes a file in the working directory: here, in the temporary one.
  const code = block.replace(/from '([^']+)'/g, (m, spec: string) => (spec in IMPORTS ? `from '${IMPORTS[spec] as string}'` : m)).replace("'atlas.rules.yml'", JSON.stringify(join(dir, 'atlas.rules.yml')))
    .replaceAll("'http://127.0.0.1:9091'", JSON.stringify(gateway?.url))
  writeFileSync(file, code)
  await import(pathToFileURL(file).href)
}

describe('README', () => {
  it('has six TypeScript blocks, and each runs as written on its own (metrics flag on)', async () => {
    expect(blocks).toHaveLength(6)
    gateway = await startPushgateway()
    vi.stubEnv('AURIS_METRICS_EXP', 'on')
    for (const [i, block] of blocks.entries()) await run(block, `block-${String(i)}`)
    expect(readFileSync(join(dir, 'atlas.rules.yml'), 'utf8')).toContain('alert: HighDegradationRate')
    // The push block pushed one group, which its pruning (an hour) left alone.
    expect((await listGroups({ url: gateway.url })).map((g) => Object.keys(g.labels).sort())).toEqual([['job', 'run_id', 'shard']])
  })

  it('prints the score histogram its comment shows', async () => {
    const index = blocks.findIndex((b) => b.includes('scoreBuckets: DEFAULT_SCORE_BUCKETS'))
    const lines: string[] = []
    const spy = vi.spyOn(console, 'log').mockImplementation((text: string) => lines.push(...text.split('\n')))
    try {
      await run(blocks[index] as string, 'histogram')
    } finally {
      spy.mockRestore()
    }
    const shown = (blocks[index] as string).split('\n').filter((l) => l.startsWith('// atlas_') && !l.includes('…')).map((l) => l.slice(3))
    expect(shown).toHaveLength(8)
    for (const line of shown) expect(lines).toContain(line)
    // The score EMA's gauge shares the prefix: the comment elides its value.
    expect(lines.filter((l) => l.startsWith('atlas_stability_score_bucket'))).toHaveLength(11)
  })
})
