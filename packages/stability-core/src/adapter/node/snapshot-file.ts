import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { lstat, open, readFile, readdir, readlink, realpath, rename, rm, writeFile, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { StabilityWindows, type StabilityWindowsRestoreOptions } from '../../windows.js'

/**
 * Snapshot files for Node: atomic writes (a temporary file in the target's
 * directory, flushed, then renamed over the old one, so a crash leaves
 * either the old file or the new one, never half of one) and a SHA-256
 * checksum of the payload's bytes, so a truncated, corrupted or edited file
 * is refused with a clear message instead of restoring a state no run
 * produced.
 *
 * Layout (version 2): one header line of fixed width, then the payload.
 *
 * ```text
 * {"format":"auris.snapshot-file","version":2,"bytes":       1234,"sha256":"<64 hex>"}\n
 * <payload: JSON, `bytes` bytes>\n
 * ```
 *
 * The header is written last (over a placeholder of the same width), so the
 * payload can be streamed to disk in pieces and hashed as it goes. Reading
 * never recurses on the file's nesting depth: the size is checked before
 * reading, the checksum covers bytes, and the depth is counted by a flat
 * scan before `JSON.parse` (which V8 runs iteratively) sees the text.
 * Version 1 files (one JSON line, checksum of the re-serialised snapshot)
 * are still read, after the same size and depth checks.
 */

const FORMAT = 'auris.snapshot-file'
const HEADER_PREFIX = `{"format":"${FORMAT}","version":2,"bytes":`
const BYTES_WIDTH = 16
/** Header length including its newline: prefix, padded byte count, `,"sha256":"`, 64 hex digits, `"}`, `\n`. */
const HEADER_LENGTH = HEADER_PREFIX.length + BYTES_WIDTH + ',"sha256":"'.length + 64 + 2 + 1

/** Default largest file read or written: 256 MiB (V8 cannot hold a string much past 512 MiB). */
export const DEFAULT_SNAPSHOT_MAX_BYTES = 256 * 1024 * 1024
/** Default deepest nesting of arrays and objects accepted in a payload (a window registry uses 6). */
export const DEFAULT_SNAPSHOT_MAX_DEPTH = 32

/** Why a snapshot file could not be used. */
export class SnapshotFileError extends Error {
  /** The snapshot file. */
  readonly path: string
  /** What went wrong, as a stable code to branch on (the message has the details). */
  readonly reason: 'missing' | 'unreadable' | 'too-large' | 'too-deep' | 'truncated' | 'not-json' | 'foreign' | 'checksum' | 'invalid' | 'unwritable'

  /** The error for the file at `path`, with `reason` as its code and `detail` in its message. */
  constructor(path: string, reason: SnapshotFileError['reason'], detail: string) {
    super(`snapshot file ${path}: ${detail}`)
    this.name = 'SnapshotFileError'
    this.path = path
    this.reason = reason
  }
}

/** Limits of {@link readSnapshotFile} (and of the writers, for `maxBytes`). */
export interface SnapshotFileLimits {
  /** Largest file accepted, in bytes; a larger file is refused before it is read. Integer in [64, 512 MiB]. Default 256 MiB. */
  maxBytes?: number
  /** Deepest nesting of arrays and objects accepted in the payload. Integer in [1, 1000]. Default 32. */
  maxDepth?: number
}

/**
 * File operations the writer uses; tests replace one to simulate a full
 * disk or a failing flush.
 *
 * @internal
 */
export interface SnapshotFileIo {
  write(file: FileHandle, data: string | Uint8Array, position?: number): Promise<unknown>
  sync(file: FileHandle): Promise<void>
}

const NODE_IO: SnapshotFileIo = {
  write: (file, data, position) => (typeof data === 'string' ? file.write(data, position ?? null, 'utf8') : file.write(data, 0, data.length, position ?? null)),
  sync: (file) => file.sync(),
}

/** Options of the writers. */
export interface SnapshotFileWriteOptions extends Pick<SnapshotFileLimits, 'maxBytes'> {
  /** @internal */
  io?: SnapshotFileIo
}

function limit(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`snapshot file: ${name} must be an integer in [${String(min)}, ${String(max)}]; got ${String(value)}`)
  }
  return value
}

const limits = (o: SnapshotFileLimits = {}): { maxBytes: number; maxDepth: number } => ({
  maxBytes: limit('maxBytes', o.maxBytes, DEFAULT_SNAPSHOT_MAX_BYTES, 64, 512 * 1024 * 1024),
  maxDepth: limit('maxDepth', o.maxDepth, DEFAULT_SNAPSHOT_MAX_DEPTH, 1, 1000),
})

/**
 * The file a write to `path` must replace: `path` itself, or, when `path`
 * is a symbolic link (to a file that may not exist yet), its final target,
 * so the link stays a link.
 */
export async function snapshotTarget(path: string): Promise<string> {
  let current = resolve(path)
  for (let hops = 0; hops < 40; hops++) {
    let isLink: boolean
    try {
      isLink = (await lstat(current)).isSymbolicLink()
    } catch {
      return current
    }
    if (!isLink) return current
    try {
      return await realpath(current)
    } catch {
      // A dangling link: follow it by hand to the file it names.
      current = resolve(dirname(current), await readlink(current))
    }
  }
  throw new SnapshotFileError(path, 'unwritable', 'is a chain of more than 40 symbolic links')
}

/** Temporary files this process is writing now: never stale, whatever their pid says. */
const inFlight = new Set<string>()
/** Lock files this process holds (a lock with this pid not in here is a previous life's). */
const held = new Set<string>()

const temporaryName = (target: string): string => `${target}.${String(process.pid)}.${randomBytes(6).toString('hex')}.tmp`

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as { code?: unknown }).code === 'EPERM'
  }
}

/**
 * Removes the temporary files a writer killed mid-snapshot (`kill -9`, a
 * power cut) left beside the file `path` writes to: each is named
 * `<file>.<pid>.<12 hex>.tmp` and is stale when that process is gone, or
 * is this process but not one of its writes in flight (a container's
 * restarted service often gets the same pid). Another live process's
 * temporary file is left alone. Without this, every crash during a
 * snapshot would keep a copy of the whole registry on disk for good.
 * Returns the paths removed; never throws (a directory that cannot be
 * listed has nothing this could remove).
 *
 * @example
 * ```ts
 * const removed = await removeStaleTemporaryFiles('/var/lib/fab/stability.json')
 * ```
 */
export async function removeStaleTemporaryFiles(path: string): Promise<string[]> {
  let target: string
  let names: string[]
  try {
    target = await snapshotTarget(path)
    names = await readdir(dirname(target))
  } catch {
    return []
  }
  const prefix = `${basename(target)}.`
  const removed: string[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const match = /^(\d{1,10})\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length))
    if (match === null) continue
    const file = join(dirname(target), name)
    const pid = Number(match[1])
    if (inFlight.has(file) || (pid !== process.pid && alive(pid))) continue
    try {
      await rm(file, { force: true })
      removed.push(file)
    } catch {
      // Not ours to remove (permissions): left as it is.
    }
  }
  return removed
}

/**
 * Claims the file `path` writes to for this process, with a lock file
 * beside it (`<file>.lock`, holding the pid), so that two services pointed
 * at the same snapshot file do not overwrite each other's state every
 * period unnoticed. A lock left by a process that is gone (`kill -9`), or
 * carrying this process's own pid (a restarted container), is taken over.
 * Returns the release function (idempotent; removes the lock file if it
 * is still this process's).
 *
 * @throws {SnapshotFileError} (`unwritable`) when another live process
 *   holds the lock, naming its pid, or when the lock file cannot be created.
 *
 * @example
 * ```ts
 * const release = await lockSnapshotFile('/var/lib/fab/stability.json')
 * try { ... } finally { await release() }
 * ```
 */
export async function lockSnapshotFile(path: string): Promise<() => Promise<void>> {
  const lock = `${await snapshotTarget(path)}.lock`
  const mine = `${String(process.pid)}\n`
  if (held.has(lock)) throw new SnapshotFileError(path, 'unwritable', `is in use by this process (lock file ${lock}); one writer per file`)
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, mine, { flag: 'wx', mode: 0o600 })
      break
    } catch (error) {
      if (errorCode(error) !== 'EEXIST' || attempt > 0) {
        throw new SnapshotFileError(path, 'unwritable', `cannot create the lock file ${lock} (${errorCode(error)})`)
      }
    }
    let holder = Number.NaN
    try {
      holder = Number((await readFile(lock, 'latin1')).trim())
    } catch {
      // Removed meanwhile, or unreadable: treated as stale below.
    }
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new SnapshotFileError(path, 'unwritable', `is in use by process ${String(holder)} (lock file ${lock}); one writer per file`)
    }
    await rm(lock, { force: true }).catch(() => undefined)
  }
  held.add(lock)
  let released = false
  return async () => {
    if (released) return
    released = true
    held.delete(lock)
    try {
      if ((await readFile(lock, 'latin1')) === mine) await rm(lock, { force: true })
    } catch {
      // Already gone.
    }
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : error instanceof Error ? error.message : 'unknown error'
}

/**
 * Writes a payload given as JSON text pieces to `path` atomically: the
 * pieces go to a temporary file beside the target (hashed as they go), the
 * header is written over its placeholder, the file is flushed and renamed
 * over the target. On any failure the temporary file is removed and a
 * {@link SnapshotFileError} (`unwritable`) says what failed.
 *
 * @example
 * ```ts
 * await writeSnapshotFileChunks('/var/lib/fab/state.json', ['[1,', '2]'])
 * ```
 */
export async function writeSnapshotFileChunks(path: string, chunks: Iterable<string> | AsyncIterable<string>, options: SnapshotFileWriteOptions = {}): Promise<void> {
  const { maxBytes } = limits(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes })
  const io = options.io ?? NODE_IO
  const target = await snapshotTarget(path)
  const temporary = temporaryName(target)
  let file: FileHandle | undefined
  let step = 'create a temporary file beside it'
  inFlight.add(temporary)
  try {
    file = await open(temporary, 'wx', 0o600)
    step = 'write'
    await io.write(file, `${HEADER_PREFIX}${' '.repeat(BYTES_WIDTH)},"sha256":"${'0'.repeat(64)}"}\n`)
    const hash = createHash('sha256')
    let bytes = 0
    // for await takes sync iterables too; the cast keeps the element type under every lint program.
    for await (const chunk of chunks as AsyncIterable<string>) {
      if (chunk.length === 0) continue
      const data = Buffer.from(chunk, 'utf8')
      bytes += data.length
      if (HEADER_LENGTH + bytes + 1 > maxBytes) {
        step = 'size'
        throw new SnapshotFileError(path, 'unwritable', `the snapshot would exceed maxBytes (${String(maxBytes)} bytes); nothing was replaced`)
      }
      hash.update(data)
      await io.write(file, data)
    }
    await io.write(file, '\n')
    await io.write(file, `${HEADER_PREFIX}${String(bytes).padStart(BYTES_WIDTH, ' ')},"sha256":"${hash.digest('hex')}"}\n`, 0)
    step = 'flush'
    await io.sync(file)
    step = 'close'
    const closing = file
    file = undefined
    await closing.close()
    step = 'rename the temporary file over it'
    await rename(temporary, target)
  } catch (error) {
    await file?.close().catch(() => undefined)
    await rm(temporary, { force: true }).catch(() => undefined)
    if (error instanceof SnapshotFileError) throw error
    throw new SnapshotFileError(path, 'unwritable', `cannot ${step} (${errorCode(error)}); the previous file, if any, is unchanged`)
  } finally {
    inFlight.delete(temporary)
  }
}

/**
 * Writes `snapshot` (any JSON-safe value, such as `windows.toJSON()`) to
 * `path` atomically, with a checksum. Through a symbolic link, the link's
 * target is replaced and the link kept. For large registries prefer
 * `writeWindowsFile`, which does not block the event loop.
 *
 * @example
 * ```ts
 * await writeSnapshotFile('/var/lib/fab/stability.json', windows.toJSON())
 * ```
 */
export async function writeSnapshotFile(path: string, snapshot: unknown, options: SnapshotFileWriteOptions = {}): Promise<void> {
  await writeSnapshotFileChunks(path, [JSON.stringify(snapshot)], options)
}

/** Deepest nesting of arrays and objects in JSON text, counted without recursion; stops past `max`. */
export function jsonDepth(bytes: Uint8Array, start = 0, end = bytes.length, max = Infinity): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) {
        deepest = depth
        if (deepest > max) return deepest
      }
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return deepest
}

async function readBytes(path: string, maxBytes: number): Promise<Buffer> {
  let file: FileHandle
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer forever.
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT') throw new SnapshotFileError(path, 'missing', 'does not exist')
    throw new SnapshotFileError(path, 'unreadable', `cannot be read (${code})`)
  }
  try {
    const stat = await file.stat()
    if (stat.isDirectory()) throw new SnapshotFileError(path, 'unreadable', 'is a directory, not a file')
    if (!stat.isFile()) throw new SnapshotFileError(path, 'unreadable', 'is not a regular file')
    if (stat.size > maxBytes) throw new SnapshotFileError(path, 'too-large', `is ${String(stat.size)} bytes, more than the limit of ${String(maxBytes)}; not read`)
    // Read at most one byte past the limit: a file that grows while read is still bounded.
    const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(stat.size, 1)))
    let length = 0
    for (;;) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
      if (length === buffer.length) break
    }
    if (length > maxBytes) throw new SnapshotFileError(path, 'too-large', `grew past the limit of ${String(maxBytes)} bytes while read; not used`)
    return buffer.subarray(0, length)
  } catch (error) {
    if (error instanceof SnapshotFileError) throw error
    throw new SnapshotFileError(path, 'unreadable', `cannot be read (${errorCode(error)})`)
  } finally {
    await file.close().catch(() => undefined)
  }
}

function parse(path: string, bytes: Uint8Array, start: number, end: number, maxDepth: number, envelope = 0): unknown {
  const depth = jsonDepth(bytes, start, end, maxDepth + envelope) - envelope
  if (depth > maxDepth) throw new SnapshotFileError(path, 'too-deep', `nests arrays or objects more than ${String(maxDepth)} deep; not a snapshot`)
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8')) as unknown
  } catch {
    throw new SnapshotFileError(path, 'not-json', `is not valid JSON (${String(end - start)} bytes): truncated or not a snapshot`)
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * Reads a file written by {@link writeSnapshotFile} (or
 * {@link writeSnapshotFileChunks}) and returns the snapshot, after checking
 * the size, the header, the length and the checksum of the payload's bytes,
 * and its nesting depth.
 *
 * @throws {SnapshotFileError} saying what is wrong: missing, unreadable (a
 *   directory, no permission), too large, truncated, not JSON, nested too
 *   deep, not a snapshot file, or a checksum that does not match (edited
 *   or corrupted).
 * @throws {RangeError} when a limit is out of range.
 *
 * @example
 * ```ts
 * const snapshot = await readSnapshotFile('/var/lib/fab/stability.json', { maxBytes: 16 * 1024 * 1024 })
 * ```
 */
export async function readSnapshotFile(path: string, options: SnapshotFileLimits = {}): Promise<unknown> {
  const { maxBytes, maxDepth } = limits(options)
  const bytes = await readBytes(path, maxBytes)
  const newline = bytes.indexOf(0x0a)
  if (newline === HEADER_LENGTH - 1 && bytes.subarray(0, HEADER_PREFIX.length).toString('latin1') === HEADER_PREFIX) {
    let header: { bytes?: unknown; sha256?: unknown }
    try {
      header = JSON.parse(bytes.subarray(0, newline).toString('latin1')) as typeof header
    } catch {
      throw new SnapshotFileError(path, 'foreign', `has a damaged ${FORMAT} header`)
    }
    const length = header.bytes
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || typeof header.sha256 !== 'string') {
      throw new SnapshotFileError(path, 'foreign', `has a damaged ${FORMAT} header`)
    }
    const start = HEADER_LENGTH
    // A cut file has lost its final newline; a complete one edited shorter or longer has not.
    const complete = bytes.length > start && bytes[bytes.length - 1] === 0x0a
    const present = Math.max(0, bytes.length - start - (complete ? 1 : 0))
    if (!complete) throw new SnapshotFileError(path, 'truncated', `is truncated: ${String(present)} of ${String(length)} payload bytes`)
    if (present !== length) {
      const by = `${String(Math.abs(present - length))} bytes ${present > length ? 'more' : 'fewer'}`
      throw new SnapshotFileError(path, 'checksum', `has ${by} than its header says: it was edited or corrupted`)
    }
    if (sha256(bytes.subarray(start, start + length)) !== header.sha256) {
      throw new SnapshotFileError(path, 'checksum', 'does not match its checksum: it was edited or corrupted')
    }
    return parse(path, bytes, start, start + length, maxDepth)
  }
  // Version 1, or not a snapshot file at all.
  const envelope = parse(path, bytes, 0, bytes.length, maxDepth, 1)
  const e = envelope as { format?: unknown; version?: unknown; sha256?: unknown; snapshot?: unknown }
  if (typeof envelope !== 'object' || envelope === null || e.format !== FORMAT || e.version !== 1 || typeof e.sha256 !== 'string' || !('snapshot' in e)) {
    throw new SnapshotFileError(path, 'foreign', `is not an ${FORMAT} file (version 2 or 1)`)
  }
  // Bounded recursion: the depth was checked above.
  if (sha256(Buffer.from(JSON.stringify(e.snapshot), 'utf8')) !== e.sha256) {
    throw new SnapshotFileError(path, 'checksum', 'does not match its checksum: it was edited or corrupted')
  }
  return e.snapshot
}

/**
 * Moves a refused snapshot file out of the way, beside itself, as
 * `<file>.rejected-<UTC time>` (through a symbolic link: beside the target),
 * so the next snapshot does not overwrite it. Returns the new path.
 *
 * @throws {SnapshotFileError} (`unwritable`) when it cannot be renamed.
 *
 * @example
 * ```ts
 * const kept = await setAsideSnapshotFile('/var/lib/fab/stability.json')
 * ```
 */
export async function setAsideSnapshotFile(path: string, now: Date = new Date()): Promise<string> {
  const target = await snapshotTarget(path)
  const stamp = now.toISOString().replace(/[:.]/g, '-')
  for (let n = 0; ; n++) {
    const aside = `${target}.rejected-${stamp}${n === 0 ? '' : `-${String(n)}`}`
    try {
      await lstat(aside)
      continue
    } catch {
      // Free name.
    }
    try {
      await rename(target, aside)
      return aside
    } catch (error) {
      throw new SnapshotFileError(path, 'unwritable', `was refused and cannot be kept aside as ${aside} (${errorCode(error)})`)
    }
  }
}

/** What {@link restoreWindowsFile} did. */
export interface RestoredWindows {
  /** The registry: restored from the file, or a fresh one. */
  readonly windows: StabilityWindows
  /** Whether the windows came from the file (false: a fresh registry). */
  readonly restored: boolean
  /** Why the file was not used, when it was not. */
  readonly problem?: string
  /** Where a refused file was moved (`<file>.rejected-<time>`), when it was. */
  readonly keptAs?: string
}

/** Options of {@link restoreWindowsFile}. */
export interface RestoreWindowsFileOptions extends StabilityWindowsRestoreOptions, SnapshotFileLimits {
  /** Options of the fresh registry used when the file is refused. */
  fresh?: ConstructorParameters<typeof StabilityWindows>[0]
  /**
   * The caller's own check of a restored registry (the ids and the
   * configuration it expects): a string refuses it with that reason.
   */
  accept?: (windows: StabilityWindows) => string | null
  /** Move a refused file aside (`<file>.rejected-<time>`) so it is never overwritten. Default true. */
  keepRefused?: boolean
}

/**
 * A window registry restored from `path`, or a fresh one (with `problem`
 * saying why) when the file is missing, too large, truncated, edited, does
 * not make a registry, or is refused by `accept`: a service that cannot
 * restore starts fresh instead of crash-looping. A refused file (anything
 * but a missing one) is moved aside to `<file>.rejected-<time>` first
 * (`keptAs`), so the next snapshot does not destroy it.
 *
 * @throws {SnapshotFileError} when the file is refused and cannot be moved
 *   aside, or cannot be read at all (a directory, no permission): starting
 *   fresh would then lose or fail to write the state.
 * @throws {RangeError} when an option is invalid.
 *
 * @example
 * ```ts
 * const { windows, problem, keptAs } = await restoreWindowsFile('/var/lib/fab/stability.json', { maxWindows: 1000 })
 * if (problem) console.warn(`starting fresh: ${problem}${keptAs ? ` (kept as ${keptAs})` : ''}`)
 * ```
 */
export async function restoreWindowsFile(path: string, options: RestoreWindowsFileOptions = {}): Promise<RestoredWindows> {
  const { fresh, accept, keepRefused = true, maxBytes, maxDepth, ...restore } = options
  const sizes = { ...(maxBytes === undefined ? {} : { maxBytes }), ...(maxDepth === undefined ? {} : { maxDepth }) }
  // Built first: a bad option throws here, so any later error is the file's fault.
  const windows = new StabilityWindows({ ...restore, ...fresh })
  // Before anything writes here again: what a writer killed mid-snapshot left behind.
  await removeStaleTemporaryFiles(path)
  let problem: string
  try {
    const snapshot = await readSnapshotFile(path, sizes)
    let restored: StabilityWindows
    try {
      restored = StabilityWindows.fromJSON(snapshot, restore)
    } catch (error) {
      // Whatever the content makes the restore throw, it is a refusal, never a crash.
      throw new SnapshotFileError(path, 'invalid', (error as Error).message)
    }
    const refusal = accept?.(restored) ?? null
    if (refusal === null) return { windows: restored, restored: true }
    problem = `snapshot file ${path}: ${refusal}`
  } catch (error) {
    if (!(error instanceof SnapshotFileError)) throw error
    if (error.reason === 'missing') return { windows, restored: false, problem: error.message }
    if (error.reason === 'unreadable') throw error
    problem = error.message
  }
  if (!keepRefused) return { windows, restored: false, problem }
  return { windows, restored: false, problem, keptAs: await setAsideSnapshotFile(path) }
}
