// @ts-check
import { defineConfig } from 'vitest/config'

/**
 * @param {import('./index.d.ts').PackageTestOptions} [options]
 * @returns {import('vitest/config').ViteUserConfig}
 */
export function packageConfig(options = {}) {
  const { coverage = 90, include = ['src/**/*.test.ts'], testTimeout = 30_000 } = options
  return defineConfig({
    test: {
      include,
      testTimeout,
      // Property tests and fixture replays are CPU-bound; forks keep one slow file from starving the rest.
      pool: 'forks',
      coverage: {
        provider: 'v8',
        include: ['src/**/*.ts'],
        exclude: ['src/**/*.test.ts', 'src/**/__fixtures__/**', 'src/**/testing/**', ...(options.coverageExclude ?? [])],
        reporter: ['text-summary', 'json-summary'],
        thresholds: { lines: coverage, branches: coverage, functions: coverage, statements: coverage },
      },
    },
  })
}
