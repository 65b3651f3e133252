/**
 * @module
 * Node-only helpers of `@auris/stability-core` (`@auris/stability-core/node`):
 * snapshot files with atomic writes and checksums.
 */
export { SnapshotFileError, readSnapshotFile, restoreWindowsFile, writeSnapshotFile, type RestoredWindows } from './snapshot-file.js'
