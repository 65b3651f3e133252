import { execFileSync } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { StabilityWindows } from '../../windows.js'
import {
  SnapshotFileError,
  jsonDepth,
  lockSnapshotFile,
  readSnapshotFile,
  removeStaleTemporaryFiles,
  restoreWindowsFile,
  setAsideSnapshotFile,
  snapshotTarget,
  writeSnapshotFile,
  writeSnapshotFileChunks,
  type SnapshotFileIo,
} from './snapshot-file.js'
import { writeWindowsFile } from './windows-file.js'

let dir = ''
const mounts: string[] = []
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m])
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  dir = ''
})

function fresh(): string {
  dir = mkdtempSync(join(tmpdir(), 'auris-snap-'))
  return dir
}

function busy(n = 2): StabilityWindows {
  const windows = new StabilityWindows({ tracker: { minStableTicks: 5 }, clock: () => 1000, maxWindows: Math.max(n, 2) })
  for (let i = 0; i < 50; i++) {
    windows.tick('global', i % 7 === 0 ? 0.2 : 0.9, i % 11 === 0)
    windows.tick('stream "a"', 0.8)
    for (let k = 2; k < n; k++) windows.tick(`w${String(k)}`, (i + k) % 5 === 0 ? 0.3 : 0.9)
  }
  return windows
}

/** Mounts a tmpfs of `kb` KiB (read-only when asked) at a new directory in `dir`. */
function tmpfs(kb: number, readOnly = false): string {
  const at = join(dir, `fs-${String(mounts.length)}`)
  mkdirSync(at)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${String(kb)}k`, 'tmpfs', at])
  mounts.push(at)
  if (readOnly) execFileSync('mount', ['-o', 'remount,ro', at])
  return at
}


/** A write that fails like the file system `code` would, after `okWrites` writes went through. */
function failing(code: string, okWrites: number, what: 'write' | 'sync' = 'write'): SnapshotFileIo {
  let writes = 0
  const fail = (): never => {
    throw Object.assign(new Error(`${code}: simulated`), { code })
  }
  return {
    write: (file, data, position) => {
      if (what === 'write' && writes++ >= okWrites) fail()
      return typeof data === 'string' ? file.write(data, position ?? null, 'utf8') : file.write(data, 0, data.length, position ?? null)
    },
    sync: (file) => (what === 'sync' ? Promise.reject(Object.assign(new Error(code), { code })) : file.sync()),
  }
}

describe('snapshot files', () => {
  it('round-trip a registry, leaving no temporary file', async () => {
    const path = join(fresh(), 'state.json')
    const windows = busy()
    await writeSnapshotFile(path, windows.toJSON())
    await writeSnapshotFile(path, windows.toJSON())
    expect(readdirSync(dir)).toEqual(['state.json'])
    const restored = StabilityWindows.fromJSON(await readSnapshotFile(path), { clock: () => 1000 })
    expect(restored.get('global')?.tracker.getMetrics()).toEqual(windows.get('global')?.tracker.getMetrics())
    // Header line, payload, newline; the header's byte count is the payload's.
    const text = readFileSync(path, 'utf8')
    const [header, payload] = text.split('\n')
    expect(payload).toBe(JSON.stringify(windows.toJSON()))
    expect(JSON.parse(header as string)).toMatchObject({ format: 'auris.snapshot-file', version: 2, bytes: Buffer.byteLength(payload as string) })
  })

  it('still read version 1 files', async () => {
    const path = join(fresh(), 'state.json')
    const json = JSON.stringify({ a: [1, 2] })
    const sha = (await import('node:crypto')).createHash('sha256').update(json).digest('hex')
    writeFileSync(path, `{"format":"auris.snapshot-file","version":1,"sha256":"${sha}","snapshot":${json}}\n`)
    expect(await readSnapshotFile(path)).toEqual({ a: [1, 2] })
    writeFileSync(path, `{"format":"auris.snapshot-file","version":1,"sha256":"${sha}","snapshot":{"a":[1,3]}}\n`)
    await expect(readSnapshotFile(path)).rejects.toMatchObject({ reason: 'checksum' })
  })

  const cases: [string, (text: string) => string, SnapshotFileError['reason'], RegExp][] = [
    ['truncated', (t) => t.slice(0, Math.floor(t.length / 2)), 'truncated', /is truncated: \d+ of \d+ payload bytes/],
    ['truncated to its header', (t) => t.slice(0, t.indexOf('\n') + 1), 'truncated', /is truncated: 0 of \d+ payload bytes/],
    ['empty', () => '', 'not-json', /is not valid JSON/],
    ['edited', (t) => t.replace('"stableTicks":', '"stableTicks":1'), 'checksum', /has 1 bytes more than its header says: it was edited or corrupted/],
    ['edited shorter', (t) => t.replace(/"ema":[0-9.e-]+/, '"ema":0.5'), 'checksum', /has \d+ bytes fewer than its header says: it was edited or corrupted/],
    ['edited in place', (t) => t.replace('"stableTicks":0', '"stableTicks":9'), 'checksum', /does not match its checksum: it was edited or corrupted/],
    ['header damaged', (t) => t.replace('"bytes":', '"bytez":'), 'not-json', /is not valid JSON/],
    ['header not a number', (t) => t.replace(/"bytes": *\d+/, (m) => `"bytes":${'"'.padStart(m.length - 9, ' ')}"`.slice(0, m.length)), 'foreign', /damaged auris.snapshot-file header/],
    ['foreign JSON', () => '{"hello":1}', 'foreign', /is not an auris.snapshot-file file/],
  ]

  it.each(cases)('refuse a %s file with a clear message', async (_label, mutate, reason, message) => {
    const path = join(fresh(), 'state.json')
    await writeSnapshotFile(path, busy().toJSON())
    writeFileSync(path, mutate(readFileSync(path, 'utf8')))
    const error = await readSnapshotFile(path).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SnapshotFileError)
    expect((error as SnapshotFileError).reason).toBe(reason)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).toContain(path)
  })

  it('refuse a file nested 5,000 deep without recursing (either version)', async () => {
    const path = join(fresh(), 'state.json')
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`
    writeFileSync(path, `{"format":"auris.snapshot-file","version":1,"sha256":"x","snapshot":${deep}}`)
    await expect(readSnapshotFile(path)).rejects.toMatchObject({ reason: 'too-deep', message: expect.stringMatching(/more than 32 deep/) as unknown })
    // A version 2 file with a correct checksum over a deep payload.
    await writeSnapshotFileChunks(path, [deep])
    await expect(readSnapshotFile(path)).rejects.toMatchObject({ reason: 'too-deep' })
    expect(await readSnapshotFile(path, { maxDepth: 1000 }).catch((e: unknown) => (e as SnapshotFileError).reason)).toBe('too-deep')
    await writeSnapshotFileChunks(path, [`${'{"a":'.repeat(20)}1${'}'.repeat(20)}`])
    expect(await readSnapshotFile(path, { maxDepth: 20 })).toMatchObject({ a: { a: {} } })
    await expect(readSnapshotFile(path, { maxDepth: 19 })).rejects.toMatchObject({ reason: 'too-deep' })
  })

  it('count depth without being fooled by strings', () => {
    const text = Buffer.from('{"a":"[[[{{\\"[[","b":[[1],{"c":[]}]}')
    expect(jsonDepth(text)).toBe(4)
    expect(jsonDepth(Buffer.from('[]'))).toBe(1)
    expect(jsonDepth(Buffer.from('"x"'))).toBe(0)
    expect(jsonDepth(Buffer.from('[[[[[['), 0, 6, 2)).toBe(3)
  })

  it('refuse a file over the size limit before reading it (a sparse 600 MB file)', async () => {
    const path = join(fresh(), 'state.json')
    writeFileSync(path, '')
    truncateSync(path, 600 * 1024 * 1024)
    const started = performance.now()
    await expect(readSnapshotFile(path)).rejects.toMatchObject({ reason: 'too-large', message: expect.stringMatching(/is 629145600 bytes, more than the limit of 268435456; not read/) as unknown })
    expect(performance.now() - started).toBeLessThan(1000)
    await writeSnapshotFile(path, busy().toJSON())
    await expect(readSnapshotFile(path, { maxBytes: 1000 })).rejects.toMatchObject({ reason: 'too-large' })
    await expect(readSnapshotFile(path, { maxBytes: 1 })).rejects.toThrow(/maxBytes must be an integer in \[64, 536870912\]; got 1/)
    await expect(readSnapshotFile(path, { maxDepth: 0 })).rejects.toThrow(RangeError)
  })

  it('refuse to write a snapshot over the size limit, keeping the old file', async () => {
    const path = join(fresh(), 'state.json')
    await writeSnapshotFile(path, [1])
    await expect(writeSnapshotFile(path, 'x'.repeat(500), { maxBytes: 200 })).rejects.toMatchObject({ reason: 'unwritable', message: expect.stringMatching(/would exceed maxBytes \(200 bytes\)/) as unknown })
    expect(readdirSync(dir)).toEqual(['state.json'])
    expect(await readSnapshotFile(path)).toEqual([1])
  })

  it('refuse a missing file, a directory and a special file', async () => {
    fresh()
    await expect(readSnapshotFile(join(dir, 'nope.json'))).rejects.toMatchObject({ reason: 'missing' })
    await expect(readSnapshotFile(dir)).rejects.toMatchObject({ reason: 'unreadable', message: expect.stringMatching(/is a directory, not a file/) as unknown })
    await expect(readSnapshotFile('/dev/null')).rejects.toMatchObject({ reason: 'unreadable', message: expect.stringMatching(/not a regular file/) as unknown })
    await expect(readSnapshotFile(join(dir, 'nope', 'x'))).rejects.toMatchObject({ reason: 'missing' })
    writeFileSync(join(dir, 'file'), '')
    await expect(readSnapshotFile(join(dir, 'file', 'x'))).rejects.toMatchObject({ reason: 'unreadable', message: expect.stringMatching(/ENOTDIR/) as unknown })
  })

  it('write through a symbolic link to its target, keeping the link (also a dangling one)', async () => {
    fresh()
    mkdirSync(join(dir, 'data'))
    const link = join(dir, 'state.json')
    symlinkSync('data/real.json', link)
    await writeSnapshotFile(link, [1])
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe('data/real.json')
    expect(await readSnapshotFile(join(dir, 'data', 'real.json'))).toEqual([1])
    await writeSnapshotFile(link, [2])
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(await readSnapshotFile(link)).toEqual([2])
    expect(readdirSync(join(dir, 'data'))).toEqual(['real.json'])
    // A link to a link.
    symlinkSync('state.json', join(dir, 'again.json'))
    expect(await snapshotTarget(join(dir, 'again.json'))).toBe(join(dir, 'data', 'real.json'))
    // A loop of links cannot be written.
    symlinkSync('loop-b', join(dir, 'loop-a'))
    symlinkSync('loop-a', join(dir, 'loop-b'))
    await expect(writeSnapshotFile(join(dir, 'loop-a'), [1])).rejects.toMatchObject({ reason: 'unwritable', message: expect.stringMatching(/more than 40 symbolic links/) as unknown })
  })

  it('remove the temporary file when creating, writing, flushing or renaming fails', async () => {
    fresh()
    const path = join(dir, 'state.json')
    await writeSnapshotFile(path, [1])
    for (const [io, step] of [
      [failing('ENOSPC', 0), /cannot write \(ENOSPC\); the previous file, if any, is unchanged/],
      [failing('ENOSPC', 2), /cannot write \(ENOSPC\)/],
      [failing('EIO', 0, 'sync'), /cannot flush \(EIO\)/],
    ] as const) {
      await expect(writeSnapshotFile(path, [2, 'x'.repeat(100)], { io })).rejects.toMatchObject({ reason: 'unwritable', message: expect.stringMatching(step) as unknown })
      expect(readdirSync(dir)).toEqual(['state.json'])
      expect(await readSnapshotFile(path)).toEqual([1])
    }
    // A directory in the way: the rename fails, the temporary file goes.
    const blocked = join(dir, 'blocked')
    mkdirSync(join(blocked, 'x'), { recursive: true })
    await expect(writeSnapshotFile(blocked, [1])).rejects.toMatchObject({ message: expect.stringMatching(/cannot rename the temporary file over it \(EISDIR\)/) as unknown })
    expect(readdirSync(dir).sort()).toEqual(['blocked', 'state.json'])
    // No directory to create the temporary file in.
    await expect(writeSnapshotFile(join(dir, 'none', 'state.json'), [1])).rejects.toMatchObject({ message: expect.stringMatching(/cannot create a temporary file beside it \(ENOENT\)/) as unknown })
  })

  it('on a full disk (a 64 KiB tmpfs) fail cleanly every time, keeping the old file and no temporary one', async () => {
    fresh()
    const at = tmpfs(64)
    const path = join(at, 'state.json')
    await writeSnapshotFile(path, busy().toJSON())
    const before = readFileSync(path)
    for (let i = 0; i < 5; i++) {
      await expect(writeWindowsFile(path, busy(200))).rejects.toMatchObject({ reason: 'unwritable', message: expect.stringMatching(/cannot write \(ENOSPC\)/) as unknown })
    }
    expect(readdirSync(at)).toEqual(['state.json'])
    expect(readFileSync(path).equals(before)).toBe(true)
  })

  it('on a read-only file system fail with EROFS and leave nothing behind', async () => {
    fresh()
    const at = tmpfs(64)
    await writeSnapshotFile(join(at, 'state.json'), [1])
    execFileSync('mount', ['-o', 'remount,ro', at])
    await expect(writeSnapshotFile(join(at, 'state.json'), [2])).rejects.toMatchObject({ message: expect.stringMatching(/cannot create a temporary file beside it \(EROFS\)/) as unknown })
    expect(readdirSync(at)).toEqual(['state.json'])
    expect(await readSnapshotFile(join(at, 'state.json'))).toEqual([1])
    // Refused there, it cannot be kept aside: restoring says so instead of losing it.
    await expect(restoreWindowsFile(join(at, 'state.json'))).rejects.toMatchObject({ reason: 'unwritable', message: expect.stringMatching(/cannot be kept aside as .*rejected-.* \(EROFS\)/) as unknown })
  })

  it('refuse a FIFO (or a link to one) at once instead of waiting for a writer forever', async () => {
    fresh()
    const fifo = join(dir, 'state.fifo')
    execFileSync('mkfifo', [fifo])
    symlinkSync(fifo, join(dir, 'link.json'))
    // A blocked open never returns; 10 s only tells "hung" from "slow on a loaded machine" (the reason is asserted exactly).
    const within = <T>(p: Promise<T>): Promise<T | 'hung'> => Promise.race([p, new Promise<'hung'>((resolve) => setTimeout(() => { resolve('hung') }, 10_000))])
    for (const path of [fifo, join(dir, 'link.json')]) {
      const outcome = await within(readSnapshotFile(path).then(() => 'read', (error: unknown) => error))
      expect(outcome).toMatchObject({ reason: 'unreadable', message: `snapshot file ${path}: is not a regular file` })
    }
    const restored = await within(restoreWindowsFile(fifo).then(() => 'restored', (error: unknown) => error))
    expect(restored).toMatchObject({ reason: 'unreadable' })
  })

  it('remove the temporary files of writers that died mid-snapshot, never a live writer\'s', async () => {
    const path = join(fresh(), 'state.json')
    await writeSnapshotFile(path, busy().toJSON())
    // A real process that exited: its pid is free (or reused by something unrelated, then its file is left).
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }))
    const names = {
      dead: `state.json.${String(dead)}.0123456789ab.tmp`,
      own: `state.json.${String(process.pid)}.00000000000a.tmp`,
      live: `state.json.${String(process.ppid)}.abcdefabcdef.tmp`,
      other: 'state.json.1234.not-ours.tmp',
      unrelated: 'other.json.1.0123456789ab.tmp',
    }
    for (const name of Object.values(names)) writeFileSync(join(dir, name), 'x'.repeat(1000))
    const restored = await restoreWindowsFile(path)
    expect(restored.restored).toBe(true)
    expect(readdirSync(dir).sort()).toEqual([names.live, names.other, names.unrelated, 'state.json'].sort())
    // A write in flight in this process is not stale.
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const writing = writeSnapshotFileChunks(path, (async function* () {
      yield '[1,'
      await gate
      yield '2]'
    })())
    let temporary: string[] = []
    for (let i = 0; i < 200 && temporary.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      temporary = readdirSync(dir).filter((n) => n.startsWith(`state.json.${String(process.pid)}.`))
    }
    expect(temporary).toHaveLength(1)
    expect(await removeStaleTemporaryFiles(path)).toEqual([])
    release()
    await writing
    expect(await readSnapshotFile(path)).toEqual([1, 2])
    expect(await removeStaleTemporaryFiles(join(dir, 'missing-dir', 'x.json'))).toEqual([])
  })

  it('lock a file for one writer: a live holder refuses, a dead or previous-life holder is taken over', async () => {
    const path = join(fresh(), 'state.json')
    const lock = `${path}.lock`
    const release = await lockSnapshotFile(path)
    expect(readFileSync(lock, 'utf8')).toBe(`${String(process.pid)}\n`)
    await expect(lockSnapshotFile(path)).rejects.toMatchObject({ reason: 'unwritable', message: `snapshot file ${path}: is in use by this process (lock file ${lock}); one writer per file` })
    await release()
    await release()
    expect(readdirSync(dir)).toEqual([])
    // Another live process (the parent of this one).
    writeFileSync(lock, `${String(process.ppid)}\n`)
    await expect(lockSnapshotFile(path)).rejects.toMatchObject({ message: `snapshot file ${path}: is in use by process ${String(process.ppid)} (lock file ${lock}); one writer per file` })
    // A process that is gone, this pid from a previous life, garbage: taken over.
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }))
    for (const stale of [`${String(dead)}\n`, `${String(process.pid)}\n`, 'garbage']) {
      writeFileSync(lock, stale)
      const again = await lockSnapshotFile(path)
      expect(readFileSync(lock, 'utf8')).toBe(`${String(process.pid)}\n`)
      await again()
      expect(readdirSync(dir)).toEqual([])
    }
    // Through a symbolic link, the lock is beside the target.
    symlinkSync(path, join(dir, 'link.json'))
    const viaLink = await lockSnapshotFile(join(dir, 'link.json'))
    expect(readdirSync(dir).sort()).toEqual(['link.json', 'state.json.lock'])
    await viaLink()
  })

  it('start fresh, saying why, when the file is missing or refused, and keep the refused file aside', async () => {
    const path = join(fresh(), 'state.json')
    const missing = await restoreWindowsFile(path, { maxWindows: 10 })
    expect(missing).toMatchObject({ restored: false })
    expect(missing.problem).toMatch(/does not exist/)
    expect(missing.keptAs).toBeUndefined()
    expect(missing.windows.maxWindows).toBe(10)
    // A checksum-valid file whose content is not a registry.
    await writeSnapshotFile(path, { format: 'something else' })
    const invalid = await restoreWindowsFile(path, { fresh: { tracker: { minStableTicks: 3 } } })
    expect(invalid.restored).toBe(false)
    expect(invalid.problem).toMatch(/^snapshot file .*state.json: .*Invalid StabilityWindows snapshot/)
    expect(invalid.windows.trackerConfig.minStableTicks).toBe(3)
    expect(invalid.keptAs).toMatch(/state\.json\.rejected-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/)
    expect(await readSnapshotFile(invalid.keptAs as string)).toEqual({ format: 'something else' })
    expect(readdirSync(dir)).toEqual([invalid.keptAs?.slice(dir.length + 1)])
    await writeSnapshotFile(path, busy().toJSON())
    const ok = await restoreWindowsFile(path)
    expect(ok).toMatchObject({ restored: true })
    expect(ok.windows.ids()).toEqual(['global', 'stream "a"'])
    // More windows than the caller allows: refused and kept.
    const small = await restoreWindowsFile(path, { maxWindows: 1, keepRefused: false })
    expect(small.problem).toMatch(/holds 2 windows, more than maxWindows \(1\)/)
    expect(small.keptAs).toBeUndefined()
    // The caller's own check.
    const refused = await restoreWindowsFile(path, { accept: (w) => (w.has('global') ? 'has a window named global' : null) })
    expect(refused).toMatchObject({ restored: false, problem: `snapshot file ${path}: has a window named global` })
    expect(readFileSync(refused.keptAs as string, 'utf8')).toContain('"stream \\"a\\""')
    expect(readdirSync(dir)).toHaveLength(2)
  })

  it('never overwrite an earlier rejected copy', async () => {
    const path = join(fresh(), 'state.json')
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))
    writeFileSync(path, 'one')
    expect(await setAsideSnapshotFile(path, at)).toBe(`${path}.rejected-2026-01-02T03-04-05-006Z`)
    writeFileSync(path, 'two')
    expect(await setAsideSnapshotFile(path, at)).toBe(`${path}.rejected-2026-01-02T03-04-05-006Z-1`)
    expect(readFileSync(`${path}.rejected-2026-01-02T03-04-05-006Z`, 'utf8')).toBe('one')
    await expect(setAsideSnapshotFile(path, at)).rejects.toMatchObject({ reason: 'unwritable' })
  })

  it('refuse hostile files through restoreWindowsFile without throwing: deep, huge, truncated', async () => {
    const path = join(fresh(), 'state.json')
    for (const [label, make] of [
      ['deep', () => {
        writeFileSync(path, `{"format":"auris.snapshot-file","version":1,"sha256":"x","snapshot":${'['.repeat(5000)}${']'.repeat(5000)}}`)
      }],
      ['huge', () => { writeFileSync(path, ''); truncateSync(path, 600 * 1024 * 1024) }],
      ['truncated', async () => {
        await writeSnapshotFile(path, busy().toJSON())
        writeFileSync(path, readFileSync(path).subarray(0, 200))
      }],
    ] as const) {
      await make()
      const result = await restoreWindowsFile(path)
      expect(result.restored, label).toBe(false)
      expect(result.keptAs, label).toMatch(/rejected-/)
      rmSync(result.keptAs as string)
    }
  })
  it('keep a directory or an unreadable path as an error: starting fresh there would fail anyway', async () => {
    fresh()
    await expect(restoreWindowsFile(dir)).rejects.toMatchObject({ reason: 'unreadable' })
  })

  it('pass bad options through as RangeError', async () => {
    await expect(restoreWindowsFile('/x', { maxWindows: 0 })).rejects.toThrow(RangeError)
  })
})

describe('writeWindowsFile', () => {
  it('writes the same bytes as writeSnapshotFile(windows.toJSON()), a slice at a time', async () => {
    const path = join(fresh(), 'a.json')
    const windows = busy(2000)
    let turns = 0
    const counter = setInterval(() => turns++, 0)
    const written = await writeWindowsFile(path, windows, { sliceMs: 0.1 })
    clearInterval(counter)
    expect(written.windows).toBe(2000)
    expect(written.slices).toBeGreaterThanOrEqual(2)
    expect(written.longestSliceMs).toBeLessThan(written.elapsedMs)
    await writeSnapshotFile(join(dir, 'b.json'), windows.toJSON())
    expect(readFileSync(path).equals(readFileSync(join(dir, 'b.json')))).toBe(true)
    // The event loop ran timers while the file was written.
    expect(turns).toBeGreaterThanOrEqual(2)
    const back = await restoreWindowsFile(path, { maxWindows: 2000 })
    expect(back.restored).toBe(true)
    expect(back.windows.get('w1999')?.tracker.getMetrics()).toEqual(windows.get('w1999')?.tracker.getMetrics())
  })

  it('leaves out windows removed while it runs, and keeps the registry counters', async () => {
    const path = join(fresh(), 'a.json')
    const windows = busy(3000)
    windows.acquire('x'.repeat(300))
    const writing = writeWindowsFile(path, windows, { sliceMs: 0.1 })
    windows.delete('w2999')
    const written = await writing
    expect(written.windows).toBe(2999)
    const snapshot = (await readSnapshotFile(path)) as { windows: { id: string }[]; rejections: { invalidId: number } }
    expect(snapshot.windows.map((w) => w.id)).not.toContain('w2999')
    expect(snapshot.rejections.invalidId).toBe(1)
    await expect(writeWindowsFile(path, windows, { sliceMs: 0 })).rejects.toThrow(/sliceMs must be a number in \[0.1, 1000\]; got 0/)
    await expect(writeWindowsFile(path, windows, { share: 0 })).rejects.toThrow(/share must be a number in \(0, 1\]; got 0/)
  })

  it('with a share of wall time, rests between slices in proportion', async () => {
    const path = join(fresh(), 'a.json')
    const windows = busy(3000)
    const written = await writeWindowsFile(path, windows, { sliceMs: 1, share: 0.25 })
    // Every slice but the last works at least 1 ms, then rests 3 ms per ms of work (timers may
    // fire up to 1 ms early): a lower bound that holds however loaded the machine is.
    expect(written.slices).toBeGreaterThanOrEqual(2)
    expect(written.elapsedMs).toBeGreaterThanOrEqual(3 * (written.slices - 1))
    expect(written.windows).toBe(3000)
  })
})
