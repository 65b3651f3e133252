import { packageConfig } from '@auris/vitest-config'

// cli.ts is the process entry point and cluster-serve.ts runs only in a cluster's primary and workers;
// their tests run them as child processes.
export default packageConfig({ coverage: 90, coverageExclude: ['src/cli.ts', 'src/cluster-serve.ts'] })
