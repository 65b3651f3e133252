import { packageConfig } from '@auris/vitest-config'

// index.ts only re-exports; the index test checks the public names. cluster.ts is the IPC between a
// cluster's processes: its worker side runs only in workers, so its tests run it in real clusters (the
// merge itself, cluster-merge.ts, is covered here).
export default packageConfig({ coverage: 90, coverageExclude: ['src/index.ts', 'src/cluster.ts'] })
