import { defineConfig } from 'vitest/config'

// One area at a time: several of them measure (memory, latency, timing) and must not share the two cores.
// --expose-gc: the memory figures are taken after a full collection.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: 'forks',
    execArgv: ['--expose-gc'],
  },
})
