import { WINDOWS_SNAPSHOT_FORMAT, type StabilityWindows, type StabilityWindowsSnapshot } from '../../windows.js'
import { writeSnapshotFileChunks, type SnapshotFileWriteOptions } from './snapshot-file.js'

/** Options of {@link writeWindowsFile}. */
export interface WindowsFileWriteOptions extends SnapshotFileWriteOptions {
  /**
   * Longest stretch (ms) of serialisation before the writer yields to the
   * event loop (timers and I/O run in between). In [0.1, 1000]. Default 4.
   */
  sliceMs?: number
}

/** What {@link writeWindowsFile} wrote. */
export interface WindowsFileWritten {
  /** Windows in the file. */
  readonly windows: number
  /** Time from start to rename, ms (most of it spent letting the event loop run). */
  readonly elapsedMs: number
}

const yieldToLoop = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve)
  })

/** The registry's snapshot as JSON text pieces, produced a slice of windows at a time. */
async function* windowsJson(windows: StabilityWindows, sliceMs: number, count: { windows: number }): AsyncGenerator<string> {
  // Everything but the windows, as StabilityWindows#toJSON writes it (type-checked against its snapshot type).
  const head: Omit<StabilityWindowsSnapshot, 'windows' | 'rejections' | 'evicted'> = {
    format: WINDOWS_SNAPSHOT_FORMAT,
    version: 1,
    tracker: windows.trackerConfig,
    hysteresis: windows.hysteresisConfig,
  }
  const ids = windows.ids()
  let text = `${JSON.stringify(head).slice(0, -1)},"windows":[`
  let until = performance.now() + sliceMs
  let first = true
  for (const id of ids) {
    // A window removed since the ids were read is left out; one added is in the next snapshot.
    const window = windows.get(id)
    if (window === undefined) continue
    const entry: StabilityWindowsSnapshot['windows'][number] = { id, tracker: window.tracker.toJSON(), hysteresis: window.hysteresis?.toJSON() ?? null }
    text += (first ? '' : ',') + JSON.stringify(entry)
    first = false
    count.windows++
    if (performance.now() >= until) {
      yield text
      text = ''
      await yieldToLoop()
      until = performance.now() + sliceMs
    }
  }
  const tail: Pick<StabilityWindowsSnapshot, 'rejections' | 'evicted'> = { rejections: windows.rejections, evicted: windows.evicted }
  yield `${text}],${JSON.stringify(tail).slice(1)}`
}

/**
 * Writes a window registry to a snapshot file (the format of
 * `writeSnapshotFile(path, windows.toJSON())`, read back by
 * `restoreWindowsFile`) without blocking the event loop: windows are
 * serialised a slice at a time (`sliceMs`), each slice hashed and written
 * before the next, with the event loop running in between; memory stays
 * bounded by a slice. Each window is captured whole, at the moment its
 * slice runs: windows that keep ticking during the write are captured at
 * slightly different ticks, as a service restarting from the file would
 * see them. Run one at a time per file.
 *
 * @throws {SnapshotFileError} (`unwritable`) when the file cannot be
 *   written; the temporary file is removed and the previous file kept.
 *
 * @example
 * ```ts
 * const { windows: n, elapsedMs } = await writeWindowsFile('/var/lib/fab/stability.json', windows)
 * ```
 */
export async function writeWindowsFile(path: string, windows: StabilityWindows, options: WindowsFileWriteOptions = {}): Promise<WindowsFileWritten> {
  const { sliceMs = 4, ...write } = options
  if (!(typeof sliceMs === 'number' && sliceMs >= 0.1 && sliceMs <= 1000)) throw new RangeError(`writeWindowsFile: sliceMs must be a number in [0.1, 1000]; got ${String(sliceMs)}`)
  const started = performance.now()
  const count = { windows: 0 }
  await writeSnapshotFileChunks(path, windowsJson(windows, sliceMs, count), write)
  return { windows: count.windows, elapsedMs: performance.now() - started }
}
