import { readFileSync } from 'node:fs'
import { Hono } from 'hono'
import { Hono as OldestHono } from 'hono-min'
import { describe, expect, it } from 'vitest'

/**
 * The route tests run twice: with the workspace's hono, and (vitest.hono-min.config.ts) with
 * `hono` resolved to the oldest release the peer range admits. These two checks keep that
 * second run honest: the range starts where the tested release is, and the run really uses it.
 */
const OLDEST_RUN = process.env.AURIS_HONO_UNDER_TEST === 'min'

function manifest(path: string): { version: string; peerDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string; peerDependencies?: Record<string, string> }
}

describe('the hono peer range', () => {
  it('starts at the oldest release the route tests run against', () => {
    const oldest = manifest('../node_modules/hono-min/package.json').version
    expect(manifest('../package.json').peerDependencies?.hono).toBe(`^${oldest}`)
  })

  it(OLDEST_RUN ? 'this run resolves hono to that oldest release' : 'this run resolves hono to the workspace release', () => {
    expect((Hono as unknown) === (OldestHono as unknown)).toBe(OLDEST_RUN)
  })
})
