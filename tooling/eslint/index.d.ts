import type { Linter } from 'eslint'

/** Runtime-neutral packages: no `node:*` imports, no Node-only globals (outside `adapter/node`, tests, benches). */
export declare function neutral(tsconfigRootDir: string, options?: { forbid?: string[] }): Linter.Config[]
/** Node-only code: apps, scripts, Node adapters. */
export declare function node(tsconfigRootDir: string): Linter.Config[]
