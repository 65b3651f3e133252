import { publishedTypes } from '@auris/test-support/published-types'
import { describe, expect, it } from 'vitest'

/**
 * The published `.d.ts` files (dist/, built before tests run) hold only the
 * documented API: every declaration tagged `@internal` in the sources is
 * stripped (`stripInternal`), so a user's editor cannot offer `load()` or the
 * registry's step constants.
 */

const root = new URL('..', import.meta.url).pathname
const types = publishedTypes(root)

describe('published types', () => {
  it('finds the internal names the sources tag, the registry plumbing included', () => {
    for (const name of ['load', 'recordEvent', 'eventWindow', 'detach', 'sanitize', 'tp', 'hp', 'recordSwitch', 'trackerSetup', 'SnapshotReader', 'stepTracker', 'T_EMA']) {
      expect(types.tagged, name).toContain(name)
    }
    expect(types.declarations.length).toBeGreaterThanOrEqual(14)
  })

  it.each(types.declarations.map((path) => [path.slice(root.length), path]))('%s holds no @internal name', (_name, path) => {
    expect(types.leaked(path)).toEqual([])
    // The registry's storage parameter of the constructors is internal too.
    expect(types.text(path)).not.toMatch(/\bbinding\b/)
  })
})
