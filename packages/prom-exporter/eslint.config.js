import { neutral } from '@auris/eslint-config'

// The root entry runs anywhere with no dependency: only the adapter may import prom-client.
export default [
  ...neutral(import.meta.dirname, { forbid: ['prom-client'] }),
  {
    files: ['src/prom-client.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^node:', message: 'Runtime-neutral package: move Node-specific code under an adapter/node folder.' }] }],
    },
  },
]
