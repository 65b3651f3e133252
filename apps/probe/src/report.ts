import { FAB1_MIN_EMA, FAB2_MIN_EMA } from '@auris/stability-core'
import type { Check, SeriesPoint } from './simulation.js'

/** What the charts draw. */
export interface ChartInput {
  points: readonly SeriesPoint[]
  /** Label of the x axis (`tick`, `seconds since start`). */
  xLabel: string
  /** EMA thresholds of the modes (from @auris/stability-core). */
  fab2MinEma: number
  fab1MinEma: number
}

/**
 * The charts as inline SVG: score and EMA over time with the mode thresholds
 * and the degradation events as red marks, the recommended and effective
 * modes as colour bands, and the cool-down left. Self-contained (no imports,
 * no outer names): the live page runs this very function in the browser.
 */
export function chartsSvg(input: ChartInput): string {
  const pts = input.points
  if (pts.length === 0) return '<p class="empty">No data yet.</p>'
  const W = 960
  const L = 64
  const R = 12
  const first = pts[0] as SeriesPoint
  const last = pts[pts.length - 1] as SeriesPoint
  const span = last.x - first.x || 1
  const X = (x: number): string => (L + ((x - first.x) / span) * (W - L - R)).toFixed(1)
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const axis = (top: number, h: number): string =>
    `<line x1="${String(L)}" y1="${String(top + h)}" x2="${String(W - R)}" y2="${String(top + h)}" class="axis"/>` +
    `<text x="${String(L)}" y="${String(top + h + 14)}" class="tick">${String(first.x)}</text>` +
    `<text x="${String(W - R)}" y="${String(top + h + 14)}" class="tick" text-anchor="end">${String(last.x)} ${esc(input.xLabel)}</text>`
  const line = (value: (p: SeriesPoint) => number, top: number, h: number): string =>
    `M${pts.map((p) => `${X(p.x)},${(top + h - Math.min(1, Math.max(0, value(p))) * h).toFixed(1)}`).join('L')}`

  // 1. Score and EMA, thresholds, degradation marks.
  const h1 = 200
  const top1 = 24
  let marks = ''
  for (const p of pts) if (p.events > 0) marks += `M${X(p.x)},${String(top1)}V${String(top1 + h1)}`
  const threshold = (v: number, name: string): string => {
    const y = (top1 + h1 - v * h1).toFixed(1)
    return `<line x1="${String(L)}" y1="${y}" x2="${String(W - R)}" y2="${y}" class="threshold"/><text x="${String(L - 4)}" y="${y}" class="tick" text-anchor="end">${name} ${String(v)}</text>`
  }
  const events = pts.reduce((n, p) => n + p.events, 0)
  const chart1 =
    `<svg class="chart" id="chart-score" viewBox="0 0 ${String(W)} ${String(top1 + h1 + 22)}" role="img" aria-label="stability score and EMA">` +
    `<text x="${String(L)}" y="14" class="title">Stability score (grey) and EMA (blue); red marks: ${String(events)} degradation event(s)</text>` +
    threshold(input.fab2MinEma, 'FAB2') +
    threshold(input.fab1MinEma, 'FAB1') +
    (marks === '' ? '' : `<path class="marks" d="${marks}"/>`) +
    `<path class="score" d="${line((p) => p.score, top1, h1)}"/>` +
    `<path class="ema" d="${line((p) => p.ema, top1, h1)}"/>` +
    axis(top1, h1) +
    '</svg>'

  // 2. Mode bands: one rectangle per run of equal mode.
  const colours = ['#d64545', '#e0a030', '#3a9d5d']
  const band = (value: (p: SeriesPoint) => number, top: number, h: number, cls: string): string => {
    let out = ''
    let start = 0
    for (let i = 1; i <= pts.length; i++) {
      const a = pts[start] as SeriesPoint
      const b = pts[i]
      if (b !== undefined && value(b) === value(a)) continue
      const x0 = Number(X(a.x))
      const x1 = Number(X((b ?? last).x))
      out += `<rect class="${cls} fab${String(value(a))}" x="${x0.toFixed(1)}" y="${String(top)}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${String(h)}" fill="${colours[value(a)] ?? '#888'}"/>`
      start = i
    }
    return out
  }
  const chart2 =
    `<svg class="chart" id="chart-modes" viewBox="0 0 ${String(W)} 110" role="img" aria-label="recommended and effective modes">` +
    `<text x="${String(L)}" y="14" class="title">Modes: recommended (top), effective after the anti-chatter filter (bottom); green FAB2, amber FAB1, red FAB0</text>` +
    `<text x="${String(L - 4)}" y="42" class="tick" text-anchor="end">rec.</text>` +
    band((p) => p.recommended, 24, 30, 'recommended') +
    `<text x="${String(L - 4)}" y="78" class="tick" text-anchor="end">eff.</text>` +
    band((p) => p.effective, 60, 30, 'effective') +
    axis(60, 30) +
    '</svg>'

  // 3. Cool-down left.
  const h3 = 80
  const top3 = 24
  const most = Math.max(1, ...pts.map((p) => p.cooldownRemaining))
  const cool = line((p) => p.cooldownRemaining / most, top3, h3)
  const chart3 =
    `<svg class="chart" id="chart-cooldown" viewBox="0 0 ${String(W)} ${String(top3 + h3 + 22)}" role="img" aria-label="cool-down">` +
    `<text x="${String(L)}" y="14" class="title">Cool-down left (ticks, up to ${String(most)})</text>` +
    `<path class="cooldown" d="${cool}L${X(last.x)},${String(top3 + h3)}L${X(first.x)},${String(top3 + h3)}Z"/>` +
    axis(top3, h3) +
    '</svg>'
  return chart1 + chart2 + chart3
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 16px}
.chart{display:block;width:100%;height:auto;margin:8px 0 16px}
.title{font-size:12px;fill:#333}.tick{font-size:11px;fill:#666}
.axis{stroke:#999;stroke-width:1}.threshold{stroke:#bbb;stroke-dasharray:4 3}
.score{fill:none;stroke:#888;stroke-width:1.2}.ema{fill:none;stroke:#1f5fbf;stroke-width:2}
.marks{stroke:#d64545;stroke-width:1;opacity:.7}.cooldown{fill:#9b59b6;opacity:.5;stroke:#7d3c98}
ul.checks{list-style:none;padding:0}.ok{color:#2e7d32}.bad{color:#c62828}
#status{font-family:ui-monospace,monospace;font-size:12px;color:#333;white-space:pre-wrap}`

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** At most `max` points: every k-th point, with the events in between summed into it. */
export function downsample(points: readonly SeriesPoint[], max: number): SeriesPoint[] {
  if (points.length <= max) return points.slice()
  const stride = Math.ceil(points.length / max)
  const out: SeriesPoint[] = []
  let events = 0
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as SeriesPoint
    events += p.events
    if ((i + 1) % stride === 0 || i === points.length - 1) {
      out.push({ ...p, events })
      events = 0
    }
  }
  return out
}

/** What the HTML report shows. */
export interface ReportInput {
  title: string
  subtitle: string
  points: readonly SeriesPoint[]
  checks: readonly Check[]
}

/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script,
 * nothing fetched) with the charts of the `global` window and the checks.
 */
export function reportHtml(input: ReportInput): string {
  const ok = input.checks.every((c) => c.ok)
  const checks = input.checks
    .map((c) => `<li class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '✓' : '✗'} ${escapeHtml(c.name)} <span class="tick">(${escapeHtml(c.detail)})</span></li>`)
    .join('\n')
  const charts = chartsSvg({ points: downsample(input.points, 2000), xLabel: 'tick', fab2MinEma: FAB2_MIN_EMA, fab1MinEma: FAB1_MIN_EMA })
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(input.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<p class="sub">${escapeHtml(input.subtitle)}</p>
${charts}
<h2>Checks: ${ok ? 'all passed' : 'FAILED'}</h2>
<ul class="checks">
${checks}
</ul>
</body></html>
`
}

/**
 * The live page of `serve` (at `/`): the same charts, redrawn every second
 * from `probe/state` (only the points newer than the last one). The path is
 * relative to the page, so the page also works behind a reverse proxy that
 * serves the probe under a path prefix.
 */
export function livePage(): string {
  const thresholds = JSON.stringify({ fab2MinEma: FAB2_MIN_EMA, fab1MinEma: FAB1_MIN_EMA })
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'">
<title>auris probe (live)</title><style>${STYLE}</style></head>
<body>
<h1>auris probe: window "global", live</h1>
<p class="sub">Redrawn every second from <a href="probe/state">/probe/state</a>. Metrics for Prometheus: <a href="metrics/exp">/metrics/exp</a>.</p>
<div id="status">connecting...</div>
<div id="charts"></div>
<script>
const chartsSvg = ${chartsSvg.toString()};
const thresholds = ${thresholds};
let points = [];
let since;
async function poll() {
  try {
    const response = await fetch('probe/state' + (since === undefined ? '' : '?since=' + since));
    const s = await response.json();
    // The probe restarted (its clock is behind the last point): drop the old run's points, fetch all.
    if (since !== undefined && s.uptimeMs / 1000 < since) {
      points = [];
      since = undefined;
      setTimeout(poll, 0);
      return;
    }
    points = points.concat(s.history).slice(-1200);
    if (points.length > 0) since = points[points.length - 1].x;
    const g = s.global;
    document.getElementById('status').textContent =
      'phase ' + (s.phase ?? s.scenario) + (s.paused ? ' (paused)' : '') + ' | tick ' + s.ticks + ' | ' + s.windows + ' window(s)' +
      ' | recommended ' + g.recommendedMode + ', effective ' + (g.hysteresis ? g.hysteresis.effectiveMode : '-') +
      ' | EMA ' + g.stabilityScoreEma.toFixed(3) + ' | cool-down ' + g.cooldownRemaining + ' | degradations ' + g.totalDegradations +
      ' | event-loop max ' + s.eventLoopDelayMs.max.toFixed(1) + ' ms' +
      (s.stateFile ? ' | state file ' + s.stateFile.written + ' written' + (s.stateFile.lastError ? ', FAILING: ' + s.stateFile.lastError : '') : '');
    document.getElementById('charts').innerHTML = chartsSvg({ points, xLabel: 'seconds since start', ...thresholds });
  } catch (error) {
    document.getElementById('status').textContent = 'probe unreachable: ' + error;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body></html>
`
}
