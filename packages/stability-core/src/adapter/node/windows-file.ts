import { WINDOWS_SNAPSHOT_FORMAT, type StabilityWindows, type StabilityWindowsSnapshot } from '../../windows.js'
import { writeSnapshotFileChunks, type SnapshotFileWriteOptions } from './snapshot-file.js'

/** Options of {@link writeWindowsFile}. */
export interface WindowsFileWriteOptions extends SnapshotFileWriteOptions {
  /**
   * Longest stretch (ms) of serialisation before the writer yields to the
   * event loop (timers and I/O run in between). In [0.1, 1000]. Default 4.
   */
  sliceMs?: number
  /**
   * Share of wall time the writer may take, in (0, 1]: after a slice of
   * `d` ms it rests `d * (1 / share - 1)` ms, so a busy service keeps its
   * pace and the snapshot takes longer instead. Default 1 (only yield).
   */
  share?: number
}

/** What {@link writeWindowsFile} wrote. */
export interface WindowsFileWritten {
  /** Windows in the file. */
  readonly windows: number
  /** Time from start to rename, ms (most of it spent letting the event loop run). */
  readonly elapsedMs: number
  /** Slices of serialisation. */
  readonly slices: number
  /** The longest slice (ms): the longest the writer held the event loop, hashing and copying aside. */
  readonly longestSliceMs: number
}

const yieldToLoop = (restMs: number): Promise<void> =>
  new Promise((resolve) => {
    if (restMs > 0) setTimeout(resolve, restMs)
    else setImmediate(resolve)
  })

/** The registry's snapshot as JSON text pieces, produced a slice of windows at a time. */
async function* windowsJson(windows: StabilityWindows, sliceMs: number, share: number, count: { windows: number; slices: number; longestSliceMs: number }): AsyncGenerator<string> {
  // Everything but the windows, as StabilityWindows#toJSON writes it (type-checked against its snapshot type).
  const head: Omit<StabilityWindowsSnapshot, 'windows' | 'rejections' | 'evicted' | 'overrides'> = {
    format: WINDOWS_SNAPSHOT_FORMAT,
    version: 1,
    tracker: windows.trackerConfig,
    hysteresis: windows.hysteresisConfig,
  }
  const ids = windows.ids()
  let text = `${JSON.stringify(head).slice(0, -1)},"windows":[`
  let began = performance.now()
  let until = began + sliceMs
  let first = true
  for (const id of ids) {
    // A window removed since the ids were read is left out; one added is in the next snapshot.
    const window = windows.get(id)
    if (window === undefined) continue
    const entry: StabilityWindowsSnapshot['windows'][number] = { id, tracker: window.tracker.toJSON(), hysteresis: window.hysteresis?.toJSON() ?? null }
    text += (first ? '' : ',') + JSON.stringify(entry)
    first = false
    count.windows++
    const now = performance.now()
    if (now >= until) {
      count.slices++
      if (now - began > count.longestSliceMs) count.longestSliceMs = now - began
      yield text
      text = ''
      await yieldToLoop(share >= 1 ? 0 : (now - began) * (1 / share - 1))
      began = performance.now()
      until = began + sliceMs
    }
  }
  count.slices++
  count.longestSliceMs = Math.max(count.longestSliceMs, performance.now() - began)
  // Required<…>: a field added to the snapshot type is a compile error here until the writer writes it.
  const tail: Required<Omit<StabilityWindowsSnapshot, keyof typeof head | 'windows'>> = { rejections: windows.rejections, evicted: windows.evicted, overrides: windows.overrides }
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
  const { sliceMs = 4, share = 1, ...write } = options
  if (!(typeof sliceMs === 'number' && sliceMs >= 0.1 && sliceMs <= 1000)) throw new RangeError(`writeWindowsFile: sliceMs must be a number in [0.1, 1000]; got ${String(sliceMs)}`)
  if (!(typeof share === 'number' && share > 0 && share <= 1)) throw new RangeError(`writeWindowsFile: share must be a number in (0, 1]; got ${String(share)}`)
  const started = performance.now()
  const count = { windows: 0, slices: 0, longestSliceMs: 0 }
  await writeSnapshotFileChunks(path, windowsJson(windows, sliceMs, share, count), write)
  return { windows: count.windows, elapsedMs: performance.now() - started, slices: count.slices, longestSliceMs: count.longestSliceMs }
}
