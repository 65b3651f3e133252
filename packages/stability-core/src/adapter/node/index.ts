/**
 * Node-only helpers of `@auris/stability-core` (`@auris/stability-core/node`):
 * snapshot files with atomic writes, checksums and limits, and a window
 * registry writer that does not block the event loop.
 *
 * @module
 */
export {
  DEFAULT_SNAPSHOT_MAX_BYTES,
  DEFAULT_SNAPSHOT_MAX_DEPTH,
  SnapshotFileError,
  lockSnapshotFile,
  readSnapshotFile,
  removeStaleTemporaryFiles,
  restoreWindowsFile,
  setAsideSnapshotFile,
  writeSnapshotFile,
  writeSnapshotFileChunks,
  type RestoreWindowsFileOptions,
  type RestoredWindows,
  type SnapshotFileLimits,
  type SnapshotFileWriteOptions,
} from './snapshot-file.js'
export { writeWindowsFile, type WindowsFileWriteOptions, type WindowsFileWritten } from './windows-file.js'
