import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { inflateSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import type { ServeOptions } from './args.js'
import { livePage, reportHtml } from './report.js'
import { startProbeServer, type ProbeState } from './serve.js'
import { REFERENCE_SCENARIO, checkScenario, runScenario } from './simulation.js'

/**
 * The HTML report and the live page, opened in Debian's headless Chromium
 * (`apt-get install chromium`, done by .ci/run): the DOM after scripts ran,
 * and a screenshot whose pixels are counted.
 */
const CHROMIUM = '/usr/bin/chromium'
const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'auris-browser-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

let profiles = 0
async function chromium(url: string, mode: '--dump-dom' | `--screenshot=${string}`): Promise<string> {
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    '--window-size=1000,900',
    // Let the live page's script fetch and draw before the DOM or the pixels are taken.
    '--virtual-time-budget=4000',
    `--user-data-dir=${join(dir, `profile-${String(profiles++)}`)}`,
    mode,
    url,
  ]
  const { stdout } = await run(CHROMIUM, flags, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) into RGBA rows. */
export function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const data: Buffer[] = []
  while (offset < png.length) {
    const length = png.readUInt32BE(offset)
    const type = png.toString('latin1', offset + 4, offset + 8)
    const body = png.subarray(offset + 8, offset + 8 + length)
    if (type === 'IHDR') {
      width = body.readUInt32BE(0)
      height = body.readUInt32BE(4)
      expect([body[8], body[12]]).toEqual([8, 0])
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0
      expect(channels).toBeGreaterThanOrEqual(3)
    } else if (type === 'IDAT') data.push(body)
    offset += 12 + length
  }
  const raw = inflateSync(Buffer.concat(data))
  const stride = width * channels
  const out = new Uint8Array(width * height * 4)
  const prev = new Uint8Array(stride)
  const line = new Uint8Array(stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x] as number
      const a = x >= channels ? (line[x - channels] as number) : 0
      const b = prev[x] as number
      const c = x >= channels ? (prev[x - channels] as number) : 0
      let p = 0
      if (filter === 1) p = a
      else if (filter === 2) p = b
      else if (filter === 3) p = (a + b) >> 1
      else if (filter === 4) {
        const e = a + b - c
        const pa = Math.abs(e - a)
        const pb = Math.abs(e - b)
        const pc = Math.abs(e - c)
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
      }
      line[x] = (v + p) & 0xff
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) out[(y * width + x) * 4 + k] = line[x * channels + k] as number
      out[(y * width + x) * 4 + 3] = channels === 4 ? (line[x * channels + 3] as number) : 255
    }
    prev.set(line)
  }
  return { width, height, rgba: out }
}

// AURIS_SCREENSHOTS=<dir> keeps the screenshots there, to look at them.

/** Pixels that are neither white background nor grey text/axes: the charts' colours. */
function colouredPixels(png: Buffer): { total: number; coloured: number; red: number; blue: number } {
  const { width, height, rgba } = decodePng(png)
  let coloured = 0
  let red = 0
  let blue = 0
  for (let i = 0; i < width * height; i++) {
    const r = rgba[i * 4] as number
    const g = rgba[i * 4 + 1] as number
    const b = rgba[i * 4 + 2] as number
    if (Math.max(r, g, b) - Math.min(r, g, b) < 24) continue
    coloured++
    if (r > 180 && g < 110 && b < 110) red++
    if (b > 150 && r < 90) blue++
  }
  return { total: width * height, coloured, red, blue }
}

/** Points of each chart path (`M x,y L x,y ...`) and the mode rectangles, read from the DOM Chromium rendered. */
function chartFigures(dom: string): { score: number; ema: number; cooldown: number; marks: number; bands: number } {
  const points = (cls: string): number => {
    const d = new RegExp(`<path class="${cls}" d="([^"]*)"`).exec(dom)?.[1] ?? ''
    return d === '' ? 0 : d.split(/[ML]/).filter((p) => /^-?[\d.]+,-?[\d.]+Z?$/.test(p)).length
  }
  const marks = (/<path class="marks" d="([^"]*)"/.exec(dom)?.[1] ?? '').split('M').length - 1
  const bands = dom.match(/<rect class="(recommended|effective) fab\d"/g)?.length ?? 0
  return { score: points('score'), ema: points('ema'), cooldown: points('cooldown'), marks, bands }
}

describe('the report and the live page in headless Chromium', () => {
  it('the report draws score, EMA, degradation marks, mode bands and cool-down', async () => {
    const options = { ...REFERENCE_SCENARIO, ticks: 300, schedule: [20, 50, 80, 150, 160, 170] }
    const result = runScenario(options)
    const file = join(dir, 'report.html')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(file, reportHtml({ title: 'probe report', subtitle: 'test', points: result.series, checks: checkScenario(result, options, null) }))
    const dom = await chromium(`file://${file}`, '--dump-dom')
    // One point per tick in each line; one mark per injected degradation.
    // One point per tick in each line (the cool-down area adds 2 to close it); one mark per injected degradation;
    // one band per run of equal mode.
    const runs = (key: 'recommended' | 'effective'): number => result.series.filter((p, i) => i === 0 || p[key] !== result.series[i - 1]?.[key]).length
    expect(chartFigures(dom)).toEqual({ score: 300, ema: 300, cooldown: 302, marks: 6, bands: runs('recommended') + runs('effective') })
    expect(runs('recommended')).toBe(13)
    const png = join(process.env.AURIS_SCREENSHOTS ?? dir, 'report.png')
    await chromium(`file://${file}`, `--screenshot=${png}`)
    const pixels = colouredPixels(readFileSync(png))
    expect(pixels.total).toBe(1000 * 900)
    // The mode bands alone cover ~2 x 30 x 890 px; the EMA line and the marks add blue and red.
    expect(pixels.coloured).toBeGreaterThan(40_000)
    expect(pixels.blue).toBeGreaterThan(500)
    expect(pixels.red).toBeGreaterThan(5_000)
  }, 120_000)

  it('the live page at / fetches /probe/state and draws the same charts', async () => {
    const options: ServeOptions = {
      command: 'serve',
      port: 0,
      host: '127.0.0.1',
      tickMs: 5,
      windows: 1,
      scenario: 'schedule',
      schedule: [10, 60],
      seed: 1,
      degradeProbability: 0,
      metrics: true,
      maxAgeMs: 0,
      stateFile: null,
      snapshotMs: 1000,
      stateMaxBytes: 1024 * 1024,
    }
    const server = await startProbeServer(options)
    try {
      // Two samples a second: wait for a few (longer on a loaded machine).
      for (let i = 0; i < 300; i++) {
        const state = (await (await fetch(`${server.url}/probe/state`)).json()) as ProbeState
        if (state.history.length >= 6) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const dom = await chromium(`${server.url}/`, '--dump-dom')
      const figures = chartFigures(dom)
      expect(figures.score).toBeGreaterThanOrEqual(6)
      expect(figures.ema).toBe(figures.score)
      expect(figures.bands).toBeGreaterThanOrEqual(2)
      expect(dom).toMatch(/<div id="status">phase schedule \| tick \d+ \| 1 window\(s\) \| recommended FAB\d, effective FAB\d \| EMA [01]\.\d{3}/)
      const png = join(process.env.AURIS_SCREENSHOTS ?? dir, 'live.png')
      await chromium(`${server.url}/`, `--screenshot=${png}`)
      const pixels = colouredPixels(readFileSync(png))
      expect(pixels.coloured).toBeGreaterThan(40_000)
      expect(pixels.blue).toBeGreaterThan(300)
    } finally {
      await server.close()
    }
  }, 120_000)

  it('the live page starts over when the probe restarts (its clock goes back)', async () => {
    // A real probe's state, served as a probe that restarts after the page's first poll would serve it.
    const probe = await startProbeServer({ command: 'serve', port: 0, host: '127.0.0.1', tickMs: 5, windows: 1, scenario: 'schedule', schedule: [10], seed: 1, degradeProbability: 0, metrics: true, maxAgeMs: 0, stateFile: null, snapshotMs: 1000, stateMaxBytes: 1024 * 1024 })
    const real = (await (await fetch(`${probe.url}/probe/state`)).json()) as ProbeState
    await probe.close()
    const point = real.history[0] as ProbeState['history'][number]
    const run = (seconds: number): ProbeState => ({ ...real, uptimeMs: seconds * 1000, history: Array.from({ length: seconds * 2 + 1 }, (_, i) => ({ ...point, x: i / 2 })) })
    let polls = 0
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(livePage())
        return
      }
      // First poll: 30 s of history. Then the probe has restarted: 2 s of uptime.
      const state = polls++ === 0 ? run(30) : run(2)
      const since = url.searchParams.get('since')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...state, history: state.history.filter((p) => since === null || p.x > Number(since)) }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const dom = await chromium(`http://127.0.0.1:${String((server.address() as { port: number }).port)}/`, '--dump-dom')
      expect(polls).toBeGreaterThanOrEqual(3)
      // The new run's 5 points only, not the old run's 61.
      expect(chartFigures(dom).score).toBe(5)
    } finally {
      server.close()
    }
  }, 120_000)
})
