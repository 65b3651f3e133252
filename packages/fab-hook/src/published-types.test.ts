import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The published `.d.ts` files (dist/, built before tests run) hold only the
 * documented API: every declaration tagged `@internal` in the sources is
 * stripped (`stripInternal`), so a user's editor cannot offer the
 * hook's sample reader.
 */

const root = new URL('..', import.meta.url).pathname

function files(dir: string, suffix: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...files(path, suffix))
    else if (name.endsWith(suffix) && !name.endsWith(`.test${suffix}`)) out.push(path)
  }
  return out
}

/** Names of the declarations whose JSDoc carries `@internal`. */
function internalNames(source: string): string[] {
  const names: string[] = []
  const tagged = /\/\*\*(?:(?!\*\/)[\s\S])*@internal(?:(?!\*\/)[\s\S])*\*\/\s*(?:export\s+)?(?:(?:declare|abstract|private|protected|public|static|readonly|async|get|set|function|const|let|class|interface|type)\s+)*([A-Za-z_$][\w$]*)/g
  for (const match of source.matchAll(tagged)) names.push(match[1] as string)
  return names
}

const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')

const sources = files(join(root, 'src'), '.ts').filter((path) => !path.includes('__fixtures__'))
const declarations = files(join(root, 'dist'), '.d.ts')
const tagged = [...new Set(sources.flatMap((path) => internalNames(readFileSync(path, 'utf8'))))].filter((name) => name !== 'constructor')

describe('published types', () => {
  it('finds the internal names the sources tag, the plumbing of the hook included', () => {
    for (const name of ['SampleReader', 'pushTracker', 'pushHysteresis', 'lastTrackerOf']) {
      expect(tagged, name).toContain(name)
    }
    expect(declarations.length).toBeGreaterThanOrEqual(5)
  })

  it.each(declarations.map((path) => [path.slice(root.length), path]))('%s holds no @internal name', (_name, path) => {
    const text = withoutComments(readFileSync(path, 'utf8'))
    const leaked = tagged.filter((name) => new RegExp(`(?<![\\w$.'"])${name.replace(/\$/g, '\\$')}(?![\\w$'"])`).test(text))
    expect(leaked).toEqual([])
  })
})
