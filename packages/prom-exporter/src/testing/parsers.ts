import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * The parsers real scrapers use, run on real output: `promtool check
 * metrics` (Debian `prometheus`, text format) and Python's
 * `prometheus_client` (Debian `python3-prometheus-client`), whose text and
 * OpenMetrics parsers are strict. They fail, never skip, when missing:
 * .ci/run installs both.
 */

/** promtool's verdict on a text exposition: any line it prints is a complaint. */
export function promtool(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' })
  if (run.error !== undefined) throw new Error(`promtool could not run (${run.error.message}); install the Debian package "prometheus"`)
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() }
}

const PYTHON = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
out = []
for item in json.load(sys.stdin):
    try:
        fams = list((om if item['format'] == 'openmetrics' else text)(item['text']))
        out.append({'ok': True, 'families': len(fams), 'samples': sum(len(f.samples) for f in fams)})
    except Exception as e:
        out.append({'ok': False, 'error': type(e).__name__ + ': ' + str(e)})
print(json.dumps(out))
`

/** What Python's parser made of one exposition. */
export type PythonVerdict = { ok: true; families: number; samples: number } | { ok: false; error: string }

// The Debian package installs into the system Python, which a version manager's `python3` may shadow.
const PYTHON_BIN = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

/** Parses each exposition with prometheus_client's text or OpenMetrics parser, in one Python process. */
export function pythonParse(items: readonly { text: string; format: 'prometheus' | 'openmetrics' }[]): PythonVerdict[] {
  const run = spawnSync(PYTHON_BIN, ['-c', PYTHON], { input: JSON.stringify(items), encoding: 'utf8', maxBuffer: 1 << 28 })
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`python3 prometheus_client could not run (${run.error?.message ?? run.stderr}); install the Debian package "python3-prometheus-client"`)
  }
  return JSON.parse(run.stdout) as PythonVerdict[]
}
