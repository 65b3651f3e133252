import { defineConfig } from 'vitest/config'

// The route tests again, with `hono` resolved to the oldest release the peer range admits
// (catalog `hono-min`): a peer range that admits a hono the routes do not work with fails here.
// No coverage: the main run measures it.
export default defineConfig({
  resolve: { alias: [{ find: /^hono(\/.*)?$/, replacement: 'hono-min$1' }] },
  test: {
    include: ['src/mount-shapes.test.ts', 'src/routes.test.ts', 'src/auth.test.ts', 'src/readiness.test.ts', 'src/hono-version.test.ts'],
    testTimeout: 30_000,
    env: { AURIS_HONO_UNDER_TEST: 'min' },
    pool: 'forks',
  },
})
