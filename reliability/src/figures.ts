import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The suite's figures, collected in reliability/figures.json (not committed)
 * as each area runs; RELIABILITY.md quotes a run of them.
 */
const FILE = fileURLToPath(new URL('../figures.json', import.meta.url))

export function record(area: string, figures: Record<string, unknown>): void {
  const all = existsSync(FILE) ? (JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, unknown>) : {}
  all[area] = { ...(all[area] as Record<string, unknown> | undefined), ...figures, at: new Date().toISOString() }
  writeFileSync(FILE, `${JSON.stringify(all, null, 2)}\n`)
  console.log(`[${area}] ${JSON.stringify(figures)}`)
}

/** Forces a full GC (the suite runs with --expose-gc) and returns the heap in use, in bytes. */
export function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc (the test:reliability script does)')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
