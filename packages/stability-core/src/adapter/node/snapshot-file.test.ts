import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { StabilityWindows } from '../../windows.js'
import { SnapshotFileError, readSnapshotFile, restoreWindowsFile, writeSnapshotFile } from './snapshot-file.js'

let dir = ''
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

function busy(): StabilityWindows {
  const windows = new StabilityWindows({ tracker: { minStableTicks: 5 }, clock: () => 1000 })
  for (let i = 0; i < 50; i++) {
    windows.tick('global', i % 7 === 0 ? 0.2 : 0.9, i % 11 === 0)
    windows.tick('stream "a"', 0.8)
  }
  return windows
}

describe('snapshot files', () => {
  it('round-trip a registry, leaving no temporary file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-snap-'))
    const path = join(dir, 'state.json')
    const windows = busy()
    await writeSnapshotFile(path, windows.toJSON())
    await writeSnapshotFile(path, windows.toJSON())
    expect(readdirSync(dir)).toEqual(['state.json'])
    const restored = StabilityWindows.fromJSON(await readSnapshotFile(path), { clock: () => 1000 })
    expect(restored.get('global')?.tracker.getMetrics()).toEqual(windows.get('global')?.tracker.getMetrics())
  })

  const cases: [string, (text: string) => string, SnapshotFileError['reason'], RegExp][] = [
    ['truncated', (t) => t.slice(0, Math.floor(t.length / 2)), 'not-json', /is not valid JSON \(\d+ bytes\): truncated or not a snapshot/],
    ['empty', () => '', 'not-json', /is not valid JSON/],
    ['edited', (t) => t.replace('"stableTicks":', '"stableTicks":1'), 'checksum', /does not match its checksum: it was edited or corrupted/],
    ['foreign JSON', () => '{"hello":1}', 'foreign', /is not an auris.snapshot-file version 1 file/],
  ]

  it.each(cases)('refuse a %s file with a clear message', async (_label, mutate, reason, message) => {
    dir = mkdtempSync(join(tmpdir(), 'auris-snap-'))
    const path = join(dir, 'state.json')
    await writeSnapshotFile(path, busy().toJSON())
    writeFileSync(path, mutate(readFileSync(path, 'utf8')))
    const error = await readSnapshotFile(path).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SnapshotFileError)
    expect((error as SnapshotFileError).reason).toBe(reason)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).toContain(path)
  })

  it('refuse a missing or unreadable file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-snap-'))
    await expect(readSnapshotFile(join(dir, 'nope.json'))).rejects.toMatchObject({ reason: 'missing' })
    await expect(readSnapshotFile(dir)).rejects.toMatchObject({ reason: 'unreadable' })
  })

  it('start fresh, saying why, when the file cannot be restored', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-snap-'))
    const path = join(dir, 'state.json')
    const missing = await restoreWindowsFile(path, { maxWindows: 10 })
    expect(missing).toMatchObject({ restored: false })
    expect(missing.problem).toMatch(/does not exist/)
    expect(missing.windows.maxWindows).toBe(10)
    // A checksum-valid file whose content is not a registry.
    await writeSnapshotFile(path, { format: 'something else' })
    const invalid = await restoreWindowsFile(path, { fresh: { tracker: { minStableTicks: 3 } } })
    expect(invalid.restored).toBe(false)
    expect(invalid.problem).toMatch(/Invalid StabilityWindows snapshot/)
    expect(invalid.windows.trackerConfig.minStableTicks).toBe(3)
    await writeSnapshotFile(path, busy().toJSON())
    const ok = await restoreWindowsFile(path)
    expect(ok).toMatchObject({ restored: true })
    expect(ok.windows.ids()).toEqual(['global', 'stream "a"'])
  })

  it('pass other errors through', async () => {
    await expect(restoreWindowsFile('/x', { maxWindows: 0 })).rejects.toThrow(RangeError)
  })
})
