import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { StabilityWindows, type StabilityWindowsRestoreOptions } from '../../windows.js'

/**
 * Snapshot files for Node: atomic writes (a temporary file in the same
 * directory, flushed, then renamed over the old one, so a crash leaves
 * either the old file or the new one, never half of one) and a SHA-256
 * checksum, so a truncated, corrupted or edited file is refused with a clear
 * message instead of restoring a state no run produced.
 */

const FORMAT = 'auris.snapshot-file'

/** Why a snapshot file could not be used. */
export class SnapshotFileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: 'missing' | 'unreadable' | 'not-json' | 'foreign' | 'checksum' | 'invalid',
    detail: string,
  ) {
    super(`snapshot file ${path}: ${detail}`)
    this.name = 'SnapshotFileError'
  }
}

function digest(json: string): string {
  return createHash('sha256').update(json).digest('hex')
}

/**
 * Writes `snapshot` (any JSON-safe value, such as `windows.toJSON()`) to
 * `path` atomically, with a checksum.
 *
 * @example
 * ```ts
 * await writeSnapshotFile('/var/lib/fab/stability.json', windows.toJSON())
 * ```
 */
export async function writeSnapshotFile(path: string, snapshot: unknown): Promise<void> {
  const json = JSON.stringify(snapshot)
  const text = `{"format":"${FORMAT}","version":1,"sha256":"${digest(json)}","snapshot":${json}}\n`
  const temporary = `${path}.${String(process.pid)}.${randomBytes(6).toString('hex')}.tmp`
  const file = await open(temporary, 'w', 0o600)
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  try {
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}

/**
 * Reads a file written by {@link writeSnapshotFile} and returns the
 * snapshot, after checking the envelope and the checksum.
 *
 * @throws {SnapshotFileError} saying what is wrong: missing, unreadable, not
 *   JSON (truncated), not a snapshot file, or a checksum that does not match
 *   (edited or corrupted).
 */
export async function readSnapshotFile(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new SnapshotFileError(path, code === 'ENOENT' ? 'missing' : 'unreadable', code === 'ENOENT' ? 'does not exist' : `cannot be read (${String(code)})`)
  }
  let envelope: unknown
  try {
    envelope = JSON.parse(text)
  } catch {
    throw new SnapshotFileError(path, 'not-json', `is not valid JSON (${String(text.length)} bytes): truncated or not a snapshot`)
  }
  const e = envelope as { format?: unknown; version?: unknown; sha256?: unknown; snapshot?: unknown }
  if (typeof envelope !== 'object' || envelope === null || e.format !== FORMAT || e.version !== 1 || typeof e.sha256 !== 'string' || !('snapshot' in e)) {
    throw new SnapshotFileError(path, 'foreign', `is not an ${FORMAT} version 1 file`)
  }
  if (digest(JSON.stringify(e.snapshot)) !== e.sha256) {
    throw new SnapshotFileError(path, 'checksum', 'does not match its checksum: it was edited or corrupted')
  }
  return e.snapshot
}

/** What {@link restoreWindowsFile} did. */
export interface RestoredWindows {
  readonly windows: StabilityWindows
  /** Whether the windows came from the file (false: a fresh registry). */
  readonly restored: boolean
  /** Why the file was not used, when it was not. */
  readonly problem?: string
}

/**
 * A window registry restored from `path`, or a fresh one (with `problem`
 * saying why) when the file is missing, truncated, edited or otherwise
 * refused: a service that cannot restore starts fresh instead of
 * crash-looping.
 *
 * @example
 * ```ts
 * const { windows, problem } = await restoreWindowsFile('/var/lib/fab/stability.json', { maxWindows: 1000 })
 * if (problem) console.warn(`starting fresh: ${problem}`)
 * ```
 */
export async function restoreWindowsFile(
  path: string,
  options: StabilityWindowsRestoreOptions & { fresh?: ConstructorParameters<typeof StabilityWindows>[0] } = {},
): Promise<RestoredWindows> {
  const { fresh, ...restore } = options
  try {
    const snapshot = await readSnapshotFile(path)
    return { windows: StabilityWindows.fromJSON(snapshot, restore), restored: true }
  } catch (error) {
    if (!(error instanceof Error) || (error.name !== 'SnapshotFileError' && error.name !== 'SnapshotError')) throw error
    return { windows: new StabilityWindows({ ...restore, ...fresh }), restored: false, problem: error.message }
  }
}
