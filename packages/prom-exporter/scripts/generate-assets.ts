// Writes the shipped alert rules and dashboard from their generators:
// `pnpm --filter @auris/prom-exporter generate`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DASHBOARD_FILE, RULES_FILE, dashboardText, rulesText } from '../src/testing/assets.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
for (const [file, text] of [
  [RULES_FILE, rulesText()],
  [DASHBOARD_FILE, dashboardText()],
] as const) {
  mkdirSync(dirname(join(root, file)), { recursive: true })
  writeFileSync(join(root, file), text)
  console.log(`wrote ${file}`)
}
