import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })

let dir = ''
const mounts: string[] = []
/** Probes started by a test: killed after it, so a failing assertion leaves none running. */
const children: ReturnType<typeof spawn>[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m])
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  dir = ''
})

/** Starts `serve`, resolves once it says it serves; returns the child and its collected output. */
async function serve(...args: string[]): Promise<{ child: ReturnType<typeof spawn>; out: () => string; err: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }))
  for (let i = 0; i < 1200 && !out.includes('Ctrl-C (SIGINT)') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25))
  expect(out).toContain('Ctrl-C (SIGINT) or SIGTERM stops it.')
  return { child, out: () => out, err: () => err, exit }
}

describe('exits that tell the truth', () => {
  it('a port in use: exit 3, one line, no stack', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = String((taken.address() as { port: number }).port)
    const r = spawnSync(process.execPath, [cli, 'serve', '--port', port], { encoding: 'utf8' })
    taken.close()
    expect(r.status).toBe(3)
    expect(r.stderr).toBe(`auris-probe: cannot listen on 127.0.0.1:${port}: 127.0.0.1:${port} is already in use (pick another --port, or 0 for a free one)\n`)
  })

  it('a bad host: exit 3 (not ours) or 2 (not a name), one line', () => {
    const r = run('serve', '--port', '0', '--host', '192.0.2.1')
    expect(r.status).toBe(3)
    expect(r.stderr).toBe('auris-probe: cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (--host)\n')
    const bad = run('serve', '--host', 'not a host')
    expect(bad.status).toBe(2)
    expect(bad.stderr.split('\n')[0]).toBe('auris-probe: --host must be a host name or an IP address such as 127.0.0.1 or ::1; got "not a host"')
  })

  it('a state file that is a directory: exit 3, one line', () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-cli-'))
    const r = run('serve', '--port', '0', '--state-file', dir)
    expect(r.status).toBe(3)
    expect(r.stderr).toBe(`auris-probe: cannot use the state file: snapshot file ${dir}: is a directory, not a file\n`)
  })

  it('SIGTERM exits 0 after the last snapshot; with the disk full, exit 3 and one line instead of a stack', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-cli-'))
    const at = join(dir, 'fs')
    mkdirSync(at)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', at])
    mounts.push(at)
    const file = join(at, 'state.json')
    const ok = await serve('--state-file', file, '--snapshot-ms', '50')
    ok.child.kill('SIGTERM')
    expect(await ok.exit).toBe(0)
    expect(ok.err()).toBe('')
    expect(ok.out()).toMatch(/auris-probe: SIGTERM, finishing in-flight requests\nauris-probe: stopped\n$/)

    const full = await serve('--state-file', file, '--snapshot-ms', '100000')
    try {
      writeFileSync(join(at, 'filler'), Buffer.alloc(1024 * 1024))
    } catch {
      // ENOSPC: full, as wanted.
    }
    full.child.kill('SIGTERM')
    expect(await full.exit).toBe(3)
    expect(full.err()).toMatch(/^auris-probe: stopped, but the last snapshot was not written: snapshot file .*state\.json: cannot write \(ENOSPC\); the previous file, if any, is unchanged\n$/)
    expect(readdirSync(at).sort()).toEqual(['filler', 'state.json'])
  })

  it('kill -9 mid-snapshot, then a restart: the file is restored and the killed writer\'s temporary file removed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-cli-'))
    const file = join(dir, 'state.json')
    const temporaries = (): string[] => readdirSync(dir).filter((n) => n.endsWith('.tmp'))
    for (let round = 0; round < 2; round++) {
      // 20,000 windows: each snapshot takes long enough at a quarter of the loop to be caught in flight.
      const probe = await serve('--state-file', file, '--windows', '20000', '--snapshot-ms', '10')
      if (round > 0) expect(probe.out()).toContain(`auris-probe: restored 20000 window(s) from ${file}`)
      // Freeze the probe once a write is seen in flight, so the write cannot finish (and rename its
      // temporary file away) between this look and the kill; thaw and look again if it just did.
      for (let i = 0; i < 400; i++) {
        if (temporaries().length > 0) {
          probe.child.kill('SIGSTOP')
          if (temporaries().length > 0) break
          probe.child.kill('SIGCONT')
        }
        await new Promise((r) => setTimeout(r, 5))
      }
      expect(temporaries()).toEqual([expect.stringMatching(new RegExp(`^state\\.json\\.${String(probe.child.pid)}\\.[0-9a-f]{12}\\.tmp$`)) as unknown])
      probe.child.kill('SIGKILL')
      expect(await probe.exit).toBe(null)
      expect(temporaries()).toHaveLength(1)
    }
    const last = await serve('--state-file', file, '--windows', '20000', '--snapshot-ms', '3600000')
    expect(last.out()).toContain(`auris-probe: restored 20000 window(s) from ${file}`)
    expect(readdirSync(dir).sort()).toEqual(['state.json', 'state.json.lock'])
    last.child.kill('SIGTERM')
    expect(await last.exit).toBe(0)
    expect(readdirSync(dir)).toEqual(['state.json'])
  }, 60_000)

  it('a second probe on the same state file: exit 3, one line naming the first, which keeps its file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-cli-'))
    const file = join(dir, 'state.json')
    const first = await serve('--state-file', file, '--snapshot-ms', '20')
    // Bounded: a probe that does not refuse would serve until killed.
    const second = spawnSync(process.execPath, [cli, 'serve', '--port', '0', '--state-file', file], { encoding: 'utf8', timeout: 20_000 })
    expect(second.status).toBe(3)
    expect(second.stdout).toBe('')
    expect(second.stderr).toBe(`auris-probe: cannot use the state file: snapshot file ${file}: is in use by process ${String(first.child.pid)} (lock file ${file}.lock); one writer per file\n`)
    first.child.kill('SIGTERM')
    expect(await first.exit).toBe(0)
    expect(readdirSync(dir)).toEqual(['state.json'])
    // Released: the next probe takes the file over and restores it.
    const next = await serve('--state-file', file)
    expect(next.out()).toContain(`auris-probe: restored 1 window(s) from ${file}`)
    next.child.kill('SIGTERM')
    expect(await next.exit).toBe(0)
  })

  it('a reader that goes away (probe | head -1): quiet, the probe status', async () => {
    const child = spawn(process.execPath, [cli, '--ticks', '200000'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.stdout.once('data', () => child.stdout.destroy())
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(err).toBe('')
    expect(code).toBe(0)
  })

  it('writes the HTML report, or says in one line why it cannot', () => {
    dir = mkdtempSync(join(tmpdir(), 'auris-cli-'))
    const report = join(dir, 'report.html')
    const r = run('--report', report)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`Report: ${report.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`))
    const html = readFileSync(report, 'utf8')
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).not.toMatch(/https?:\/\/|<script|src=/)
    const bad = run('--report', dir)
    expect(bad.status).toBe(3)
    expect(bad.stderr).toBe(`auris-probe: cannot write the report ${dir} (EISDIR)\n`)
  })
})
