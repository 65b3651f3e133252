import { defineConfig } from 'vitest/config'

// Each case runs API Extractor for real (a few seconds each on a loaded machine).
export default defineConfig({ test: { include: ['*.test.ts'], testTimeout: 120_000 } })
