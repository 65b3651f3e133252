import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StabilityWindows } from '@auris/stability-core'
import { readSnapshotFile, writeSnapshotFile } from '@auris/stability-core/node'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ProbeFailure, type ServeOptions } from './args.js'
import { fitsProbe, probeWindowsOptions, startProbeServer, type ProbeServer, type ProbeState } from './serve.js'
import { TEST_SERVE_OPTIONS } from './testing/serve-options.js'

const OPTIONS: ServeOptions = { ...TEST_SERVE_OPTIONS, snapshotMs: 20 }

let dir = ''
let server: ProbeServer | undefined
const mounts: string[] = []
afterEach(async () => {
  await server?.close().catch(() => undefined)
  server = undefined
  for (const m of mounts.splice(0)) execFileSync('umount', ['-l', m])
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  dir = ''
})

function fresh(): string {
  dir = mkdtempSync(join(tmpdir(), 'auris-probe-state-'))
  return dir
}

function tmpfs(kb: number): string {
  const at = join(dir, `fs-${String(mounts.length)}`)
  mkdirSync(at)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${String(kb)}k`, 'tmpfs', at])
  mounts.push(at)
  return at
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function state(): Promise<ProbeState> {
  return (await (await fetch(`${server?.url ?? ''}/probe/state`)).json()) as ProbeState
}

/** A valid snapshot of a registry with the given ids and options, as another run would have written it. */
async function snapshotOf(path: string, ids: string[], options = probeWindowsOptions(Math.max(ids.length, 1))): Promise<void> {
  const windows = new StabilityWindows({ ...options, maxWindows: Math.max(ids.length, 1) })
  for (let t = 0; t < 40; t++) for (const id of ids) windows.tick(id, 0.9, t === 3)
  await writeSnapshotFile(path, windows.toJSON())
}

async function starts(stateFile: string, options: Partial<ServeOptions> = {}): Promise<string[]> {
  const lines: string[] = []
  server = await startProbeServer({ ...OPTIONS, stateFile, ...options }, (l) => lines.push(l))
  return lines
}

describe('probe serve with hostile state files: never a crash, nothing refused is lost', () => {
  it('a valid snapshot with foreign window ids: refused, kept, and the probe keeps ticking', async () => {
    const path = join(fresh(), 'state.json')
    await snapshotOf(path, ['alpha', 'beta'])
    const original = readFileSync(path)
    const lines = await starts(path)
    expect(lines[0]).toMatch(/starting fresh: snapshot file .*state\.json: holds 2 window\(s\) this run does not simulate \("alpha", "beta"\); this run simulates global \.\. window-2 \(--windows 2\); the refused file is kept as .*state\.json\.rejected-/)
    let s = await state()
    for (let i = 0; i < 250 && s.ticks < 5; i++) s = await sleep(20).then(state)
    expect(s.ticks).toBeGreaterThanOrEqual(5)
    expect(s.windows).toBe(2)
    const kept = readdirSync(dir).filter((f) => f.includes('.rejected-'))
    expect(kept).toHaveLength(1)
    expect(readFileSync(join(dir, kept[0] as string)).equals(original)).toBe(true)
  })

  it('a snapshot with another configuration: refused with the differences, not adopted silently', async () => {
    const path = join(fresh(), 'state.json')
    await snapshotOf(path, ['global', 'window-2'], { tracker: { minStableTicks: 30, emaDecay: 0.9 }, hysteresis: { dwellTicks: 7 } })
    const lines = await starts(path)
    expect(lines[0]).toMatch(/was written with another configuration: tracker emaDecay 0\.9 \(this run: 0\.95\), hysteresis dwellTicks 7 \(this run: 50\)/)
    expect(readdirSync(dir).filter((f) => f.includes('.rejected-'))).toHaveLength(1)
  })

  it('a snapshot written without score histograms: adopted, and the histograms start counting', async () => {
    const path = join(fresh(), 'state.json')
    await snapshotOf(path, ['global'], { tracker: { minStableTicks: 30, emaDecay: 0.95 } })
    const lines = await starts(path)
    expect(lines[0]).toMatch(/restored 1 window\(s\) from/)
    let s = await state()
    for (let i = 0; i < 250 && s.ticks < 3; i++) s = await sleep(20).then(state)
    vi.stubEnv('AURIS_METRICS_EXP', 'on')
    const text = await (await fetch(`${server?.url ?? ''}/metrics/exp`)).text().finally(() => {
      vi.unstubAllEnvs()
    })
    const count = Number(/\natlas_stability_score_count\{window_id="global"\} (\d+)\n/.exec(text)?.[1])
    // The restored window ran 40 ticks before, uncounted; it counts from the restore on.
    expect(count).toBeGreaterThanOrEqual(1)
    expect(count).toBeLessThan(40 + s.ticks)
  })

  it('a snapshot with other score buckets: refused, naming them', async () => {
    const path = join(fresh(), 'state.json')
    await snapshotOf(path, ['global'], { tracker: { minStableTicks: 30, emaDecay: 0.95, scoreBuckets: [0.5] } })
    const lines = await starts(path)
    expect(lines[0]).toMatch(/was written with another configuration: tracker scoreBuckets 0\.5 \(this run: 0,0\.1,0\.25,0\.5,0\.6,0\.7,0\.8,0\.9,0\.95,1\)/)
  })

  it('a snapshot of more windows than this run (--windows smaller): refused and kept', async () => {
    const path = join(fresh(), 'state.json')
    await snapshotOf(path, ['global', 'window-2', 'window-3'])
    const lines = await starts(path)
    expect(lines[0]).toMatch(/holds 3 windows, more than maxWindows \(2\).*kept as/)
    expect(readdirSync(dir).filter((f) => f.includes('.rejected-'))).toHaveLength(1)
  })

  it('a snapshot of fewer windows (--windows larger): adopted, the missing windows start fresh', async () => {
    const path = join(fresh(), 'state.json')
    await snapshotOf(path, ['global'])
    const lines = await starts(path, { windows: 3 })
    expect(lines[0]).toMatch(/restored 1 window\(s\) from/)
    const s = await state()
    expect(s.windows).toBe(3)
    expect(s.stateFile).toMatchObject({ restored: true, failed: 0, lastError: null })
    // The restored global window carries its degradation from the earlier run.
    expect(s.global.totalDegradations).toBeGreaterThanOrEqual(1 + s.injected.global)
  })

  it('deep (5,000 levels, 10 KB), huge (600 MB, sparse) and truncated files: refused and kept, no crash', async () => {
    const path = join(fresh(), 'state.json')
    const cases: [string, () => Promise<void> | void, RegExp][] = [
      ['deep', () => { writeFileSync(path, `{"format":"auris.snapshot-file","version":1,"sha256":"0","snapshot":${'['.repeat(5000)}${']'.repeat(5000)}}`); }, /nests arrays or objects more than 32 deep/],
      [
        'huge',
        () => {
          writeFileSync(path, '')
          truncateSync(path, 600 * 1024 * 1024)
        },
        /is 629145600 bytes, more than the limit of 268435456; not read/,
      ],
      [
        'truncated',
        async () => {
          await snapshotOf(path, ['global', 'window-2'])
          writeFileSync(path, readFileSync(path).subarray(0, 300))
        },
        /is truncated: \d+ of \d+ payload bytes/,
      ],
    ]
    for (const [label, make, why] of cases) {
      await make()
      const lines = await starts(path)
      expect(lines[0], label).toMatch(why)
      expect(lines[0], label).toMatch(/kept as .*\.rejected-/)
      await server?.close()
      server = undefined
      // What the probe wrote on its way out is a valid snapshot of its own windows.
      expect(((await readSnapshotFile(path)) as { windows: unknown[] }).windows, label).toHaveLength(2)
      for (const f of readdirSync(dir)) if (f.includes('.rejected-')) rmSync(join(dir, f))
    }
  })

  it('a symbolic link: snapshots go to its target, the link stays', async () => {
    fresh()
    mkdirSync(join(dir, 'real'))
    const link = join(dir, 'state.json')
    symlinkSync('real/probe.json', link)
    await starts(link)
    await sleep(80)
    await server?.close()
    server = undefined
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readdirSync(join(dir, 'real'))).toEqual(['probe.json'])
    expect(((await readSnapshotFile(join(dir, 'real', 'probe.json'))) as { windows: unknown[] }).windows).toHaveLength(2)
    expect((await starts(link))[0]).toMatch(/restored 2 window\(s\)/)
  })

  it('a directory, or a file in a read-only place: one ProbeFailure, nothing left running or behind', async () => {
    fresh()
    const error = await startProbeServer({ ...OPTIONS, stateFile: dir }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProbeFailure)
    expect((error as Error).message).toMatch(/^cannot use the state file: snapshot file .*: is a directory, not a file$/)
    const ro = join(dir, 'ro')
    mkdirSync(ro)
    chmodSync(ro, 0o500)
    const at = tmpfs(64)
    execFileSync('mount', ['-o', 'remount,ro', at])
    const denied = await startProbeServer({ ...OPTIONS, stateFile: join(at, 'state.json') }).catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(ProbeFailure)
    expect((denied as Error).message).toMatch(/^cannot use the state file: snapshot file .*: cannot create the lock file .*state\.json\.lock \(EROFS\)$/)
    expect(readdirSync(at)).toEqual([])
  })

  it('a full disk: one failure line per problem, no temporary files pile up, recovery is logged, and a last snapshot that fails is reported', async () => {
    fresh()
    const at = tmpfs(256)
    const path = join(at, 'state.json')
    const lines = await starts(path)
    // Fill the disk.
    const filler = join(at, 'filler')
    try {
      writeFileSync(filler, Buffer.alloc(1024 * 1024))
    } catch {
      // ENOSPC: the disk is full, as wanted.
    }
    let s = await state()
    for (let i = 0; i < 250 && (s.stateFile?.failed ?? 0) < 3; i++) s = await sleep(20).then(state)
    expect(s.stateFile?.failed).toBeGreaterThanOrEqual(3)
    expect(s.stateFile?.lastError).toMatch(/cannot write \(ENOSPC\)/)
    expect(lines.filter((l) => l.includes('snapshot failed'))).toHaveLength(1)
    // Only the write in flight, if any, has a temporary file: failed ones left none.
    expect(readdirSync(at).filter((f) => f.endsWith('.tmp')).length).toBeLessThanOrEqual(1)
    rmSync(filler)
    for (let i = 0; i < 250 && s.stateFile?.lastError !== null; i++) s = await sleep(20).then(state)
    expect(s.stateFile?.lastError).toBeNull()
    expect(lines.filter((l) => l.includes('snapshot written again'))).toHaveLength(1)
    // Full again, and kept full: a snapshot that replaced the old file freed its pages, so fill until one fails.
    const fill = (name: string): void => {
      try {
        writeFileSync(join(at, name), Buffer.alloc(1024 * 1024))
      } catch {
        // ENOSPC, as wanted.
      }
    }
    fill('filler')
    for (let i = 0; i < 100 && (await state()).stateFile?.lastError === null; i++) await sleep(20)
    fill('filler-2')
    const closing = await server?.close().catch((e: unknown) => e)
    server = undefined
    expect(closing).toBeInstanceOf(ProbeFailure)
    expect((closing as Error).message).toMatch(/^stopped, but the last snapshot was not written: snapshot file .*cannot write \(ENOSPC\)/)
    expect(readdirSync(at).sort()).toEqual(['filler', 'filler-2', 'state.json'])
  })

  it('accepts exactly the probe windows with the probe configuration', () => {
    const ours = new StabilityWindows(probeWindowsOptions(3))
    ours.acquire('global')
    ours.acquire('window-3')
    expect(fitsProbe(ours, 3)).toBeNull()
    expect(fitsProbe(ours, 1)).toMatch(/holds 1 window\(s\) this run does not simulate \("window-3"\); this run simulates global \(--windows 1\)/)
    const many = new StabilityWindows({ ...probeWindowsOptions(9), hysteresis: false })
    for (let i = 0; i < 5; i++) many.acquire(`x${String(i)}`)
    expect(fitsProbe(many, 9)).toBe('was written with another configuration: hysteresis filters off (this run: on)')
    const noFilter = new StabilityWindows({ ...probeWindowsOptions(9) })
    for (let i = 0; i < 5; i++) noFilter.acquire(`x${String(i)}`)
    expect(fitsProbe(noFilter, 9)).toMatch(/holds 5 window\(s\) .*\("x0", "x1", "x2", \.\.\.\)/)
  })
})

describe('probe serve: addresses', () => {
  it('a port in use or an address not of this machine: one ProbeFailure, no stack, nothing left ticking', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const error = await startProbeServer({ ...OPTIONS, port }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ProbeFailure)
      expect((error as Error).message).toBe(`cannot listen on 127.0.0.1:${String(port)}: 127.0.0.1:${String(port)} is already in use (pick another --port, or 0 for a free one)`)
    } finally {
      taken.close()
    }
    const foreign = await startProbeServer({ ...OPTIONS, host: '192.0.2.1' }).catch((e: unknown) => e)
    expect((foreign as Error).message).toBe('cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (--host)')
    const unknown = await startProbeServer({ ...OPTIONS, host: 'no-such-host.invalid' }).catch((e: unknown) => e)
    expect((unknown as Error).message).toMatch(/^cannot listen on no-such-host\.invalid:0: no-such-host\.invalid does not resolve( right now)? \(--host\)$/)
  })
})
