import { neutral } from '@auris/eslint-config'

// The root entry runs anywhere with no dependency: only the adapter may import prom-client.
// The cluster entry (src/cluster.ts) is a Node-only adapter: node:cluster and process are its host.
export default [
  ...neutral(import.meta.dirname, { forbid: ['prom-client'] }),
  {
    files: ['src/cluster.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'prom-client', message: 'The cluster entry does not depend on prom-client.' }] }], 'no-restricted-globals': 'off' },
  },
  {
    files: ['src/prom-client.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^node:', message: 'Runtime-neutral package: move Node-specific code under an adapter/node folder.' }] }],
    },
  },
]
