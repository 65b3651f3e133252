import type { ViteUserConfig } from 'vitest/config'

export interface PackageTestOptions {
  /** Minimum coverage, in percent, for lines, branches, functions and statements. Default 90. */
  coverage?: number
  /** Test file globs. Default `src/**\/*.test.ts` (colocated tests). */
  include?: string[]
  /** Source globs left out of coverage (entry points that only re-export, CLIs tested as processes). */
  coverageExclude?: string[]
  /** Per-test timeout in ms. Default 30 000: CI runs every package at once on two cores. */
  testTimeout?: number
}

/** The workspace's Vitest config for one package. */
export declare function packageConfig(options?: PackageTestOptions): ViteUserConfig
