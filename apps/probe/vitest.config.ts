import { packageConfig } from '@auris/vitest-config'

// cli.ts is the process entry point; its test runs it as a child process.
export default packageConfig({ coverage: 90, coverageExclude: ['src/cli.ts'] })
