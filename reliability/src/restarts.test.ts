import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventually, freePort, start } from '@auris/test-support'
import { afterAll, describe, expect, it } from 'vitest'
import { record } from './figures.js'

const driver = fileURLToPath(new URL('../scripts/restart-driver.mjs', import.meta.url))
const cli = fileURLToPath(new URL('../../apps/probe/dist/cli.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'auris-restart-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

function node(...args: string[]): { restored?: boolean; problem?: string; digests?: string[]; from?: number } {
  return JSON.parse(execFileSync(process.execPath, [driver, ...args], { encoding: 'utf8' }).trim().split('\n').pop() ?? '{}') as never
}

describe('8. restarts', () => {
  it('SIGKILL after a snapshot, restart from it: the next 1,000 ticks equal the uninterrupted run', async () => {
    const file = join(dir, 'state.json')
    const K = 2500
    const child = start(process.execPath, [driver, 'run', file, String(K), '500'])
    await eventually('the last snapshot', () => Promise.resolve(child.output().includes(`snapshotted at ${String(K)}`) ? true : undefined))
    // Let it work past the snapshot, then kill it without warning.
    await new Promise((resolve) => setTimeout(resolve, 100))
    child.process.kill('SIGKILL')
    await child.stop()
    expect(readdirSync(dir)).toEqual(['state.json'])
    const resumed = node('resume', file, '1000')
    const straight = node('straight', String(K + 1000), String(K))
    expect(resumed.restored).toBe(true)
    expect(resumed.from).toBe(K)
    expect(resumed.digests).toHaveLength(1000)
    expect(resumed.digests).toEqual(straight.digests)
    record('restarts-equivalence', { killedAfterTick: K, comparedTicks: 1000, windows: 3, identical: true, snapshotBytes: readFileSync(file).length })
  })

  it('refuses a truncated or edited snapshot with a clear message, and the service starts fresh', async () => {
    const file = join(dir, 'state.json')
    const good = readFileSync(file, 'utf8')
    const outcomes: Record<string, string> = {}
    for (const [label, text] of [
      ['truncated', good.slice(0, Math.floor(good.length * 0.6))],
      ['edited', good.replace(/"ema":[0-9.e-]+/, '"ema":0.5')],
      ['empty', ''],
    ] as const) {
      writeFileSync(file, text)
      const driverSays = node('resume', file, '10')
      expect(driverSays.restored, label).toBe(false)
      expect(driverSays.problem, label).toMatch(/snapshot file .*: (is not valid JSON|is truncated|does not match its checksum|has \d+ bytes (more|fewer) than its header says)/)
      // The probe, a service with --state-file, logs the reason and serves from a fresh state.
      const port = await freePort()
      const probe = start(process.execPath, [cli, 'serve', '--port', String(port), '--state-file', file, '--snapshot-ms', '100000'])
      try {
        await eventually(`the probe with a ${label} state file`, async () => ((await fetch(`http://127.0.0.1:${String(port)}/metrics/exp/health`)).ok ? true : undefined))
        expect(probe.output()).toMatch(/auris-probe: starting fresh: snapshot file .*(is not valid JSON|is truncated|does not match its checksum|has \d+ bytes (more|fewer) than its header says).*; the refused file is kept as .*state\.json\.rejected-/)
      } finally {
        expect(await probe.stop()).toBe(0)
      }
      outcomes[label] = (driverSays.problem ?? '').replace(/^snapshot file \S+: /, '')
      // The probe wrote a fresh, valid snapshot on its way out.
      expect(node('resume', file, '1').restored).toBe(true)
    }
    record('restarts-refusals', outcomes)
  })

  it('Ctrl-C through `pnpm probe -- serve` (SIGINT to the whole process group): the probe stops cleanly and pnpm exits 0', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const port = await freePort()
    const child = spawn('pnpm', ['probe', '--', 'serve', '--port', String(port)], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      await eventually('pnpm probe serving', () => Promise.resolve(output.includes('auris-probe: serving') ? true : undefined), 120_000)
    } finally {
      // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
      process.kill(-(child.pid as number), 'SIGINT')
    }
    expect(await exit).toBe(0)
    expect(output).toMatch(/auris-probe: SIGINT, finishing in-flight requests\nauris-probe: stopped\n/)
    expect(output).not.toMatch(/ELIFECYCLE|Command failed/)
  }, 180_000)
})
