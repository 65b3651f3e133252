import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { rulesText } from './assets.js'

/** What promtool printed (stdout then stderr) and its exit status. */
export interface PromtoolResult {
  readonly status: number | null
  readonly output: string
}

/** Runs Debian's `promtool`; fails, never skips, when it is missing (.ci/run installs it). */
export function promtool(args: readonly string[], input?: string): PromtoolResult {
  const run = spawnSync('promtool', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) })
  if (run.error !== undefined) throw new Error(`promtool could not run (${run.error.message}); install the Debian package "prometheus"`)
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

/**
 * `promtool test rules` on the shipped rules, as generated, with `tests`
 * (promtool's unit-test groups) evaluated every minute.
 */
export function testShippedRules(tests: readonly unknown[]): PromtoolResult {
  const testFile = { rule_files: ['rules.yml'], evaluation_interval: '1m', tests }
  const dir = mkdtempSync(join(tmpdir(), 'auris-rules-'))
  try {
    writeFileSync(join(dir, 'rules.yml'), rulesText())
    writeFileSync(join(dir, 'tests.yml'), stringify(testFile, { lineWidth: 0 }))
    return promtool(['test', 'rules', join(dir, 'tests.yml')])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
