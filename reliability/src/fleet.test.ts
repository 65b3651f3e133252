import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { alertRules } from '@auris/prom-exporter'
import { eventually, freePort, start, type Child } from '@auris/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { record } from './figures.js'

/**
 * The fleet shape Prometheus offers, with real processes on 127.0.0.1: two
 * Prometheus servers in agent mode (machine A scrapes one healthy probe,
 * machine B a healthy and a sick one) remote-write to a central Prometheus
 * with the remote-write receiver, which evaluates the rules. The agent and
 * central configs are the prom-exporter README's, with addresses, intervals
 * and the rules path substituted; the rules are alertRules() with short
 * `for` durations and a 1 s group interval.
 */

const cli = fileURLToPath(new URL('../../apps/probe/dist/cli.js', import.meta.url))
const readme = readFileSync(fileURLToPath(new URL('../../packages/prom-exporter/README.md', import.meta.url)), 'utf8')

/** The yaml blocks of the README's "Many instances" section. */
function readmeConfigs(): { agent: string; central: string } {
  const section = /^### Many instances\n([\s\S]*?)^#{2,3} /m.exec(readme)?.[1] ?? ''
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  const agent = blocks.find((b) => b.includes('remote_write:'))
  const central = blocks.find((b) => b.includes('rule_files:'))
  if (agent === undefined || central === undefined) throw new Error('the README\'s "Many instances" section lost its agent or central config')
  return { agent, central }
}

/** `text` with `from` replaced by `to`; fails when `from` is not there (the README changed under the test). */
function substitute(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the README config no longer contains ${JSON.stringify(from)}:\n${text}`)
  return text.replaceAll(from, to)
}

interface Alert {
  labels: Record<string, string>
  annotations: Record<string, string>
  state: string
}

/** Stopped in this order: an agent flushes its queue to the central on its way out, and would wait for it (up to a minute) if the central were gone. */
const running: { agents: Child[]; central: Child[]; probes: Child[] } = { agents: [], central: [], probes: [] }
let work = ''
let central = ''
let agentUrls: string[] = []
const probes: Record<'a1' | 'b1' | 'b2', string> = { a1: '', b1: '', b2: '' }
let startedAt = 0

async function api<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`)
  const body = (await res.json()) as { status: string; data: T; error?: string }
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? String(res.status)}`)
  return body.data
}

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  return (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(central, `/api/v1/query?query=${encodeURIComponent(expr)}`)).result
}

async function alerts(): Promise<Alert[]> {
  return (await api<{ alerts: Alert[] }>(central, '/api/v1/alerts')).alerts
}

function prometheus(args: string[], what: string): Child {
  const child = start('prometheus', [...args, '--log.level=warn'])
  child.process.once('error', (error) => {
    throw new Error(`${what} could not start (${error.message}); install the Debian package "prometheus"`)
  })
  return child
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'auris-fleet-'))
  startedAt = Date.now()
  // Three probes, two windows each (global, window-2): b2 degrades on every tick, the others never do.
  for (const [name, probability] of [
    ['a1', '0'],
    ['b1', '0'],
    ['b2', '1'],
  ] as const) {
    const port = await freePort()
    running.probes.push(start(process.execPath, [cli, 'serve', '--port', String(port), '--tick-ms', '100', '--windows', '2', '--degrade-prob', probability, '--seed', '7']))
    probes[name] = `127.0.0.1:${String(port)}`
  }

  const { agent, central: centralConfig } = readmeConfigs()
  // The rules as shipped, with pending periods and an evaluation interval short enough for a test.
  writeFileSync(join(work, 'rules.yml'), JSON.stringify(alertRules({ stabilityFor: '5s', degradationFor: '5s', switchRateFor: '5s', interval: '1s' })))
  let config = substitute(centralConfig, 'evaluation_interval: 30s', 'evaluation_interval: 1s')
  config = substitute(config, 'node_modules/@auris/prom-exporter/alerts/atlas-stability.rules.yml', join(work, 'rules.yml'))
  writeFileSync(join(work, 'central.yml'), config)
  const centralPort = await freePort()
  central = `http://127.0.0.1:${String(centralPort)}`
  running.central.push(prometheus(
    ['--web.enable-remote-write-receiver', `--config.file=${join(work, 'central.yml')}`, `--storage.tsdb.path=${join(work, 'central')}`, `--web.listen-address=127.0.0.1:${String(centralPort)}`],
    'the central Prometheus',
  ))

  for (const [machine, targets] of [
    ['a', [probes.a1]],
    ['b', [probes.b1, probes.b2]],
  ] as const) {
    let text = substitute(agent, 'scrape_interval: 15s', 'scrape_interval: 1s')
    text = substitute(text, "targets: ['app-1.example.net:8010']", `targets: [${targets.map((t) => `'${t}'`).join(', ')}]`)
    text = substitute(text, 'http://central.example.net:9090', central)
    writeFileSync(join(work, `agent-${machine}.yml`), text)
    const port = await freePort()
    agentUrls.push(`http://127.0.0.1:${String(port)}`)
    running.agents.push(prometheus(
      ['--enable-feature=agent', `--config.file=${join(work, `agent-${machine}.yml`)}`, `--storage.agent.path=${join(work, `agent-${machine}`)}`, `--web.listen-address=127.0.0.1:${String(port)}`],
      `agent ${machine}`,
    ))
  }
  for (const url of [central, ...agentUrls]) await eventually(`${url} ready`, async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 60_000)
}, 120_000)

afterAll(async () => {
  const codes: (number | null)[] = []
  for (const group of [running.agents, running.central, running.probes]) codes.push(...(await Promise.all(group.map((c) => c.stop(20_000)))))
  rmSync(work, { recursive: true, force: true })
  agentUrls = []
  // Every process stops cleanly on SIGTERM.
  expect(codes).toEqual([0, 0, 0, 0, 0, 0])
}, 60_000)

describe('10. fleet: agents remote-write to a central Prometheus', () => {
  it('the agents are agents: they refuse queries, so the central only has what they forwarded', async () => {
    for (const url of agentUrls) {
      const res = await fetch(`${url}/api/v1/query?query=up`)
      expect(res.status, url).toBe(422)
      expect(await res.json()).toEqual({ status: 'error', errorType: 'execution', error: 'unavailable with Prometheus Agent' })
    }
  })

  it('the central receives every probe from both agents', async () => {
    const instances = await eventually(
      'all three probes on the central',
      async () => {
        const result = await query('count by (instance) (atlas_stability_score_ema)')
        return result.length === 3 ? result : undefined
      },
      60_000,
      500,
    )
    expect(Object.fromEntries(instances.map((s) => [s.metric.instance, s.value[1]]))).toEqual({ [probes.a1]: '2', [probes.b1]: '2', [probes.b2]: '2' })
    // The healthy probes never degraded.
    const counts = await query(`max by (instance) (atlas_degradation_count_total{instance=~"${probes.a1}|${probes.b1}"})`)
    expect(Object.fromEntries(counts.map((s) => [s.metric.instance, s.value[1]]))).toEqual({ [probes.a1]: '0', [probes.b1]: '0' })
  })

  it('fires StabilityLow and HighDegradationRate once per window, naming the sick probe, never a healthy one', async () => {
    const expected = ['HighDegradationRate global', 'HighDegradationRate window-2', 'StabilityLow global', 'StabilityLow window-2']
    const firing = await eventually(
      'both alerts firing for both windows on the central',
      async () => {
        const all = (await alerts()).filter((a) => a.state === 'firing')
        return all.length === expected.length ? all : undefined
      },
      90_000,
      500,
    )
    const firedAfterMs = Date.now() - startedAt
    expect(firing.map((a) => `${a.labels.alertname ?? ''} ${a.labels.window_id ?? ''}`).sort()).toEqual(expected)
    for (const alert of firing) {
      // One identity per window: no instance, no job, no agent in the labels.
      expect(Object.keys(alert.labels).sort()).toEqual(['alertname', 'severity', 'window_id'])
      expect(alert.annotations.worst_instance, alert.labels.alertname).toBe(probes.b2)
    }
    // Nothing else is pending or firing, and no annotation names a healthy probe.
    const everything = await alerts()
    expect(everything).toHaveLength(expected.length)
    const text = JSON.stringify(everything)
    expect(text).not.toContain(probes.a1)
    expect(text).not.toContain(probes.b1)
    // HighDegradationRate fired: the sick probe's counter went past the rule's threshold (10) on the central.
    const sick = await query(`max(atlas_degradation_count_total{instance="${probes.b2}"})`)
    expect(Number(sick[0]?.value[1])).toBeGreaterThan(10)
    // The worst series per window is the sick probe's, and its EMA is the alert's.
    const worst = await query('bottomk(1, atlas_stability_score_ema) by (window_id)')
    expect(worst.map((s) => `${s.metric.window_id ?? ''} ${s.metric.instance ?? ''}`).sort()).toEqual([`global ${probes.b2}`, `window-2 ${probes.b2}`])
    record('fleet', { agents: 2, probes: 3, windows: 2, alertsFiring: firing.length, firedAfterStartMs: firedAfterMs })
  })
})
