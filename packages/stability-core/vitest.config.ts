import { packageConfig } from '@auris/vitest-config'

// index.ts only re-exports; the index test checks the public names.
export default packageConfig({ coverage: 95, coverageExclude: ['src/index.ts', 'src/adapter/node/index.ts'] })
