#!/usr/bin/env node
import cluster from 'node:cluster'
import { writeFile } from 'node:fs/promises'
import { EXIT, HELP, ProbeFailure, UsageError, parseCommand, type RunOptions, type ServeOptions } from './args.js'
import { formatChecks, formatHysteresis, formatMetrics, formatTable } from './format.js'
import { reportHtml } from './report.js'
import { pushRun } from './push.js'
import { startProbeServer } from './serve.js'
import { HYSTERESIS_SERIES, checkHysteresis, checkScenario, probeEnv, runHysteresisProbe, runScenario, windowId } from './simulation.js'
import { ScoreTally, TransitionLog, formatSlo, sloBreachLine, sloReport } from './slo.js'
import { sampleLines, windowLines } from './snapshot.js'

/** The probe switches its flags on for itself, as the reference probe does (metrics as asked). */
function setFlags(metrics: boolean): void {
  Object.assign(process.env, probeEnv(metrics))
}

// A reader that went away (`auris-probe | head -1`) is not an error: stop writing, quietly.
let stdoutGone = false
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') stdoutGone = true
})
process.stderr.on('error', () => undefined)

const out = (text: string): void => {
  if (!stdoutGone) process.stdout.write(text)
}

async function run(options: RunOptions): Promise<number> {
  setFlags(options.metrics)
  if (options.snapshot && !options.metrics) {
    throw new UsageError('the Prometheus snapshot needs metrics: drop --metrics off, or add --no-snapshot')
  }
  const { setupPrometheusMetrics } = await import('@auris/prom-exporter/setup')
  const exporter = await setupPrometheusMetrics({ env: process.env, maxWindows: Math.max(options.scenario.windows, 1) })
  const env = probeEnv(options.metrics)

  if (options.hysteresis) {
    const transitions = new TransitionLog()
    const result = runHysteresisProbe(exporter, env, (event) => {
      transitions.add(event)
    })
    const lines = options.snapshot && exporter !== null ? sampleLines(await exporter.metrics()) : null
    const checks = checkHysteresis(result, lines)
    const ok = checks.every((c) => c.ok)
    if (options.json) {
      out(`${JSON.stringify({ ...result, snapshot: lines, checks, transitions: transitions.report, ok }, null, 2)}\n`)
    } else {
      out('Anti-chatter probe: 50 x FAB2, 25 x (FAB1, FAB2), 50 x FAB1; dwellTicks 50, rateLimitTicks 1000\n\n')
      out(`${formatHysteresis(result)}\n\nFinal filter state:\n${formatMetrics(result.final)}\n`)
      if (lines !== null) {
        const shown = lines.filter((l) => HYSTERESIS_SERIES.some((name) => l.startsWith(`${name}{`)))
        out(`\nPrometheus snapshot (the ${String(HYSTERESIS_SERIES.length)} anti-chatter series):\n${shown.join('\n')}\n`)
      }
      out(`\nChecks:\n${formatChecks(checks)}\n\n${ok ? 'All checks passed.' : `FAILED: ${checks.filter((c) => !c.ok).map((c) => c.name).join('; ')}`}\n`)
    }
    return ok ? EXIT.ok : EXIT.checkFailed
  }

  const tally = new ScoreTally()
  const transitions = new TransitionLog()
  const result = runScenario(options.scenario, exporter, env, {
    tick: (window, score) => {
      tally.record(window, score)
    },
    transition: (event) => {
      transitions.add(event)
    },
  })
  const lines = options.snapshot && exporter !== null ? sampleLines(await exporter.metrics()) : null
  const checks = checkScenario(result, options.scenario, lines)
  const slo = sloReport(tally, options.slo, windowId)
  const checksOk = checks.every((c) => c.ok)
  const ok = checksOk && slo.ok
  const s = options.scenario
  const how = s.seed === undefined ? `degradations at ticks ${s.schedule.join(', ') || 'none'}` : `random degradations (seed ${String(s.seed)}, p ${String(s.degradeProbability)})`
  if (options.report !== null) {
    const html = reportHtml({
      title: 'auris probe report: window "global"',
      subtitle: `${String(s.ticks)} ticks, ${how}, ${String(s.windows)} window(s); effective mode from a default anti-chatter filter (dwell 50 ticks, rate limit 1000 ticks)`,
      points: result.series,
      checks,
    })
    try {
      await writeFile(options.report, html)
    } catch (error) {
      throw new ProbeFailure(`cannot write the report ${options.report} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
    }
  }
  if (options.json) {
    out(`${JSON.stringify({ final: result.final, injected: result.injected, snapshot: lines, checks, slo, transitions: transitions.report, ok, report: options.report }, null, 2)}\n`)
    return ok ? EXIT.ok : EXIT.checkFailed
  }
  out(`Stability probe: simulated FAB core -> hook -> StabilityTracker -> Prometheus exporter\n${String(s.ticks)} ticks, ${how}, ${String(s.windows)} window(s); table of window "global"\n\n`)
  out(`${formatTable(result.rows)}\n\nFinal state:\n${formatMetrics(result.final)}\n`)
  if (lines !== null) {
    const shown = s.windows <= 3 ? lines : [...windowLines(lines, 'global'), ...lines.filter((l) => l.startsWith('atlas_windows'))]
    out(`\nPrometheus snapshot${s.windows <= 3 ? '' : ' (window "global" and the exporter series)'}:\n${shown.join('\n')}\n`)
  }
  out(`\nChecks:\n${formatChecks(checks)}\n`)
  const { all } = slo
  out(`\nStability score per tick (nearest rank, ${String(all.ticks)} ticks of ${String(s.windows)} window(s)): p50 ${all.p50.toFixed(3)}, p95 ${all.p95.toFixed(3)}, p99 ${all.p99.toFixed(3)}\n`)
  if (options.slo.length > 0) out(`SLO (every window must meet each objective):\n${formatSlo(slo).join('\n')}\n`)
  out(`\n${checksOk ? 'All checks passed.' : `FAILED: ${checks.filter((c) => !c.ok).map((c) => c.name).join('; ')}`}\n`)
  const breach = sloBreachLine(slo)
  if (breach !== null) out(`${breach}\n`)
  if (options.report !== null) out(`Report: ${options.report}\n`)
  return ok ? EXIT.ok : EXIT.checkFailed
}

/**
 * `run`, then with `--push` the final metrics pushed to a Pushgateway. The
 * exporter is the run's: setup gives one exporter per prefix.
 */
async function runAndPush(options: RunOptions): Promise<number> {
  const code = await run(options)
  if (options.push === undefined) return code
  const { setupPrometheusMetrics } = await import('@auris/prom-exporter/setup')
  const exporter = await setupPrometheusMetrics({ env: process.env })
  if (exporter === null) throw new UsageError('--push pushes the metrics: drop --metrics off')
  const pushed = await pushRun(options.push, exporter)
  const line = `Pushed to ${pushed.url} (run_id ${pushed.runId}); ${String(pushed.pruned)} group(s) older than ${String(options.push.ttlSeconds)} s deleted\n`
  // --json keeps stdout a single JSON document.
  if (options.json) process.stderr.write(line)
  else out(line)
  return code
}

async function serve(options: ServeOptions): Promise<number> {
  setFlags(options.metrics)
  if (options.workers !== undefined) {
    if (cluster.isPrimary) {
      const { serveClusterPrimary } = await import('./cluster-serve.js')
      return serveClusterPrimary(options, (line) => {
        out(`${line}\n`)
      })
    }
  }
  const worker = options.workers !== undefined
  const server = worker
    ? await (await import('./cluster-serve.js')).startClusterWorker(options)
    : await startProbeServer(options, (line) => {
        out(`${line}\n`)
      })
  // A worker's primary speaks for the cluster.
  if (!worker) out('Ctrl-C (SIGINT) or SIGTERM stops it.\n')
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      if (!worker) out(`auris-probe: ${signal}, finishing in-flight requests\n`)
      resolve()
    }
    process.once('SIGINT', () => {
      stop('SIGINT')
    })
    process.once('SIGTERM', () => {
      stop('SIGTERM')
    })
  })
  await server.close()
  if (worker) {
    // The IPC channel to the primary would keep the worker alive.
    process.exit(EXIT.ok)
  }
  out('auris-probe: stopped\n')
  return EXIT.ok
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const command = parseCommand(argv)
    if (command.command === 'help') {
      out(HELP)
      return EXIT.ok
    }
    return command.command === 'run' ? await runAndPush(command) : await serve(command)
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`auris-probe: ${error.message}\n(auris-probe --help lists the options)\n`)
      return EXIT.usage
    }
    if (error instanceof ProbeFailure) {
      process.stderr.write(`auris-probe: ${error.message}\n`)
      return EXIT.failure
    }
    // A defect of the probe: one line, no stack (AURIS_PROBE_DEBUG=1 shows it).
    process.stderr.write(`auris-probe: internal error: ${error instanceof Error ? error.message : String(error)}\n`)
    if (process.env.AURIS_PROBE_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`)
    return EXIT.internal
  }
}

process.exitCode = await main(process.argv.slice(2))
