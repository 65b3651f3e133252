#!/usr/bin/env node
import { checkScenario, runScenario } from './simulation.js'
import { formatChecks, formatMetrics, formatTable } from './format.js'

const HELP = `Usage: auris-probe [--json] [--help]

Drives a simulated FAB core through the stability tracker (the reference
scenario: score 0.9, degradations at ticks 20, 50 and 80, recovery +0.05 per
tick, 100 ticks, emaDecay 0.95, minStableTicks 30), prints the table and the
final state, and checks it. Exit status 0 when every check holds, 1 otherwise.

  --json   print the result as JSON instead of the table
  --help   show this help
`

const args = process.argv.slice(2).filter((a) => a !== '--')
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP)
  process.exit(0)
}
const unknown = args.filter((a) => a !== '--json')
if (unknown.length > 0) {
  process.stderr.write(`auris-probe: unknown argument ${unknown.join(' ')}\n\n${HELP}`)
  process.exit(2)
}

const result = runScenario()
const checks = checkScenario(result)
const failed = checks.filter((c) => !c.ok)
if (args.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ final: result.final, checks, ok: failed.length === 0 }, null, 2)}\n`)
} else {
  process.stdout.write(`Stability probe: simulated FAB core -> StabilityTracker\n\n${formatTable(result.rows)}\n\n`)
  process.stdout.write(`Final state:\n${formatMetrics(result.final)}\n\nChecks:\n${formatChecks(checks)}\n\n`)
  process.stdout.write(failed.length === 0 ? 'All checks passed.\n' : `FAILED: ${failed.map((c) => c.name).join('; ')}\n`)
}
process.exit(failed.length === 0 ? 0 : 1)
