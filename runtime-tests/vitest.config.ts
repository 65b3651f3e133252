import { defineConfig } from 'vitest/config'

// Servers are started one runtime at a time: two cores, and each runtime takes one.
export default defineConfig({ test: { include: ['src/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000, fileParallelism: false } })
