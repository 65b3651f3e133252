import { createServer as createHttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { StabilityWindows } from '@auris/stability-core'
import { startPushgateway, type Pushgateway } from '@auris/test-support/pushgateway'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStabilityExporter } from './exporter.js'
import { PushError, RUN_LABEL, createPusher, groupPath, listGroups, newRunId, pruneGroups, type PushFetch } from './push.js'

/**
 * Against a real Pushgateway (Debian `prometheus-pushgateway`, started on a
 * free port by the test): what the gateway stores and serves is the oracle.
 */

let gw: Pushgateway
beforeAll(async () => {
  gw = await startPushgateway()
}, 60_000)
afterAll(async () => {
  await gw.stop()
})

/** The gateway's own exposition, without its process and Go series: only pushed families and push times. */
async function served(): Promise<string[]> {
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => /^(atlas_|push_time_seconds|custom_)/.test(l))
    .map((l) => (l.startsWith('push_time_seconds') ? l.replace(/ [0-9.e+]+$/, ' <t>') : l))
    .sort()
}

/**
 * The gateway answers a DELETE with 202 and applies it afterwards (its
 * store takes writes from a queue), so a read right after may still see the
 * group: wait until the gateway holds no group, for at most 10 s.
 */
async function emptied(): Promise<readonly unknown[]> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const groups = await listGroups({ url: gw.url })
    if (groups.length === 0 || Date.now() > deadline) return groups
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function wipe(): Promise<void> {
  for (const group of await listGroups({ url: gw.url })) {
    const { job = '', ...rest } = group.labels
    await fetch(`${gw.url}${groupPath(job, rest)}`, { method: 'DELETE' })
  }
  expect(await emptied()).toEqual([])
}

function source(text: string): { contentType: string; metrics: () => string } {
  return { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: () => text }
}

describe('groupPath: the Pushgateway grouping-key encoding', () => {
  it('percent-encodes plain values and uses base64url for a slash, an empty value, "." and ".."', () => {
    expect(groupPath('nightly')).toBe('/metrics/job/nightly')
    expect(groupPath('nightly', { run_id: 'r 1?#%' })).toBe('/metrics/job/nightly/run_id/r%201%3F%23%25')
    expect(groupPath('a/b', { path: '/var/tmp', empty: '', dot: '.', dots: '..' })).toBe('/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA=/empty@base64/=/dot@base64/Lg==/dots@base64/Li4=')
    // base64url, not base64: "+" and "/" of the standard alphabet would break the path.
    expect(groupPath('j', { v: '/>>?' })).toBe('/metrics/job/j/v@base64/Lz4-Pw==')
    expect(groupPath('j', { v: 'é/' })).toBe('/metrics/job/j/v@base64/w6kv')
  })

  it('round-trips any label value through a real gateway (fast-check; the gateway decodes)', async () => {
    await wipe()
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('', '.', '..', '/', '//', 'a/../b', '%2F', '@base64', '=', ' '))
    await fc.assert(
      fc.asyncProperty(value, value, async (job, v) => {
        fc.pre(job !== '')
        const pusher = createPusher({ url: gw.url, job, groupingKey: { v }, runId: 'r' })
        await pusher.push(source('custom_up 1\n'))
        const groups = await listGroups({ url: gw.url })
        expect(groups.map((g) => g.labels)).toEqual([{ job, v, [RUN_LABEL]: 'r' }])
        await pusher.delete()
        expect(await emptied()).toEqual([])
      }),
      { numRuns: 60 },
    )
  }, 60_000)
})

describe('createPusher against a real Pushgateway', () => {
  it('PUT replaces the group, POST merges families into it, delete removes it (push_time_seconds with it)', async () => {
    await wipe()
    const pusher = createPusher({ url: gw.url, job: 'nightly', groupingKey: { shard: '3' }, runId: 'run-1' })
    expect(pusher.url).toBe(`${gw.url}/metrics/job/nightly/shard/3/run_id/run-1`)
    expect(pusher.groupingKey).toEqual({ job: 'nightly', shard: '3', run_id: 'run-1' })
    await pusher.push(source('# TYPE custom_a_total counter\ncustom_a_total 5\n# TYPE custom_b gauge\ncustom_b 1\n'))
    await pusher.add(source('# TYPE custom_b gauge\ncustom_b 2\n# TYPE custom_c gauge\ncustom_c 3\n'))
    const labels = 'instance="",job="nightly",run_id="run-1",shard="3"'
    expect(await served()).toEqual([`custom_a_total{${labels}} 5`, `custom_b{${labels}} 2`, `custom_c{${labels}} 3`, `push_time_seconds{${labels}} <t>`])
    await pusher.push(source('# TYPE custom_c gauge\ncustom_c 4\n'))
    expect(await served()).toEqual([`custom_c{${labels}} 4`, `push_time_seconds{${labels}} <t>`])
    const [group] = await listGroups({ url: gw.url })
    expect(Math.abs((group?.pushTimeSeconds ?? 0) - Date.now() / 1000)).toBeLessThan(5)
    await pusher.delete()
    expect(await emptied()).toEqual([])
    expect(await served()).toEqual([])
    // Deleting what is gone succeeds: a run may clean up twice.
    await pusher.delete()
  })

  it("pushes an exporter's exposition; a second run into the same job never sends the first run's counters backwards", async () => {
    await wipe()
    const first = new StabilityWindows()
    for (let i = 0; i < 40; i++) first.tick('global', 0.9, i % 10 === 0)
    const exporterA = createStabilityExporter()
    exporterA.track(first)
    const second = new StabilityWindows()
    second.tick('global', 0.9, true)
    const exporterB = createStabilityExporter()
    exporterB.track(second)
    const a = createPusher({ url: gw.url, job: 'nightly' })
    const b = createPusher({ url: gw.url, job: 'nightly' })
    expect(a.runId).not.toBe(b.runId)
    await a.push(exporterA)
    await b.push(exporterB)
    const counters = (await served()).filter((l) => l.startsWith('atlas_degradation_count_total'))
    expect(counters).toEqual(
      [`atlas_degradation_count_total{instance="",job="nightly",run_id="${a.runId}",window_id="global"} 4`, `atlas_degradation_count_total{instance="",job="nightly",run_id="${b.runId}",window_id="global"} 1`].sort(),
    )
  })

  it('pushes a prom-client registry too, and uses an injected fetch', async () => {
    await wipe()
    const registry = new Registry()
    registry.setDefaultLabels({})
    const calls: string[] = []
    const counting: PushFetch = async (url, init) => {
      calls.push(`${init.method} ${url} ${init.headers['content-type'] ?? '-'}`)
      return fetch(url, init)
    }
    const pusher = createPusher({ url: `${gw.url}/`, job: 'j', runId: 'r', fetch: counting, headers: { 'x-run': 'r' } })
    await pusher.push(registry)
    await pusher.delete()
    expect(calls).toEqual([`PUT ${gw.url}/metrics/job/j/run_id/r text/plain; version=0.0.4; charset=utf-8`, `DELETE ${gw.url}/metrics/job/j/run_id/r -`])
  })

  it("fails with the gateway's status and answer", async () => {
    await wipe()
    const pusher = createPusher({ url: gw.url, job: 'j', runId: 'r' })
    const error = await pusher.push(source('custom_x not-a-number\n')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PushError)
    const e = error as PushError
    expect(e.status).toBe(400)
    expect(e.method).toBe('PUT')
    expect(e.body).toBe('text format parsing error in line 1: expected float as value, got "not-a-number"')
    expect(e.message).toBe(`PUT ${gw.url}/metrics/job/j/run_id/r: the Pushgateway answered 400 Bad Request: text format parsing error in line 1: expected float as value, got "not-a-number"`)
    // A family whose type conflicts with what another group holds: refused, the other group untouched.
    await createPusher({ url: gw.url, job: 'j', runId: 'a' }).push(source('# TYPE custom_y counter\ncustom_y_total 1\n'))
    await expect(createPusher({ url: gw.url, job: 'j', runId: 'b' }).push(source('# TYPE custom_y_total gauge\ncustom_y_total 1\n'))).rejects.toThrow(/answered 400 Bad Request: pushed metrics are invalid or inconsistent/)
  })

  it('gives up after timeoutMs on a gateway that never answers, and says when nothing listens', async () => {
    const sockets: Socket[] = []
    const silent: Server = createServer((s) => sockets.push(s))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    try {
      const started = performance.now()
      const error = (await createPusher({ url: `http://127.0.0.1:${String(port)}`, job: 'j', runId: 'r', timeoutMs: 300 }).push(source('custom_up 1\n')).catch((e: unknown) => e)) as PushError
      const took = performance.now() - started
      expect(error.message).toBe(`PUT http://127.0.0.1:${String(port)}/metrics/job/j/run_id/r: no answer from the Pushgateway within 300 ms`)
      expect(error.status).toBe(null)
      expect(took).toBeGreaterThanOrEqual(290)
      expect(took).toBeLessThan(3000)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
    const refused = (await createPusher({ url: `http://127.0.0.1:${String(port)}`, job: 'j', runId: 'r' }).delete().catch((e: unknown) => e)) as PushError
    expect(refused).toBeInstanceOf(PushError)
    expect(refused.message).toMatch(new RegExp(`^DELETE http://127\\.0\\.0\\.1:${String(port)}/metrics/job/j/run_id/r: connect ECONNREFUSED 127\\.0\\.0\\.1:${String(port)}$`))
  })
})

describe('pruneGroups: a time to live for finished runs', () => {
  it("deletes the job's groups pushed more than olderThanSeconds ago, and only those", async () => {
    await wipe()
    for (const [job, run] of [['nightly', 'old'], ['nightly', 'new'], ['other', 'old']] as const) await createPusher({ url: gw.url, job, runId: run }).push(source('custom_up 1\n'))
    const now = Date.now() / 1000
    // Seen from 100 s in the future, every group is 100 s old: those of "nightly" go.
    expect(await pruneGroups({ url: gw.url, job: 'nightly', olderThanSeconds: 200, nowSeconds: now + 100 })).toEqual([])
    const pruned = await pruneGroups({ url: gw.url, job: 'nightly', olderThanSeconds: 50, nowSeconds: now + 100 })
    expect(pruned.map((g) => g.labels.run_id).sort()).toEqual(['new', 'old'])
    expect((await listGroups({ url: gw.url })).map((g) => g.labels)).toEqual([{ job: 'other', run_id: 'old' }])
  })
})

describe('listGroups on something that is not a Pushgateway', () => {
  it('says the answer is not its JSON, with what came back', async () => {
    const answers = ['<html>hello</html>', '{"status":"success"}']
    const server = createHttpServer((_req, res) => {
      res.end(answers.shift())
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${String((server.address() as { port: number }).port)}`
    try {
      await expect(listGroups({ url })).rejects.toThrow(new PushError(`GET ${url}/api/v1/metrics: the answer is not JSON`, 'GET', `${url}/api/v1/metrics`, 200, '<html>hello</html>'))
      await expect(listGroups({ url })).rejects.toThrow(new PushError(`GET ${url}/api/v1/metrics: the answer has no "data" list of groups`, 'GET', `${url}/api/v1/metrics`, 200, '{"status":"success"}'))
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('options are checked when the pusher is made', () => {
  const ok = { url: 'http://127.0.0.1:9091', job: 'j' }
  it.each([
    [{ ...ok, url: 'ftp://x' }, 'createPusher: option "url" must use http: or https:; got "ftp://x"'],
    [{ ...ok, url: 'not a url' }, 'createPusher: option "url" must be the gateway\'s http(s) URL, such as http://127.0.0.1:9091; got "not a url"'],
    [{ ...ok, url: 'http://x/?a=1' }, 'createPusher: option "url" must have no query or fragment (the group\'s path is appended to it); got "http://x/?a=1"'],
    [{ ...ok, job: '' }, 'createPusher: option "job" must be a string of 1 to 1024 characters; got ""'],
    [{ ...ok, timeoutMs: 0 }, 'createPusher: option "timeoutMs" must be an integer in [1, 600000]; got 0'],
    [{ ...ok, timeoutMs: 1.5 }, 'createPusher: option "timeoutMs" must be an integer in [1, 600000]; got 1.5'],
    [{ ...ok, runId: '' }, 'createPusher: option "runId" must be a string of 1 to 128 characters; got ""'],
    [{ ...ok, groupingKey: { 'bad-name': 'x' } }, 'createPusher: option "groupingKey" has "bad-name", not a label name (/^[a-zA-Z_][a-zA-Z0-9_]*$/, not starting with __)'],
    [{ ...ok, groupingKey: { __x: 'x' } }, 'createPusher: option "groupingKey" has "__x", not a label name (/^[a-zA-Z_][a-zA-Z0-9_]*$/, not starting with __)'],
    [{ ...ok, groupingKey: { run_id: 'x' } }, 'createPusher: option "groupingKey" must not set "run_id": run_id is an option of its own'],
    [{ ...ok, groupingKey: { instance: 'h' } }, 'createPusher: option "groupingKey" must not set "instance": the gateway leaves instance empty on pushed series, which Prometheus keeps with honor_labels'],
    [{ ...ok, groupingKey: { a: 1 } }, 'createPusher: option "groupingKey" value of "a" must be a string of at most 1024 characters; got 1'],
    [{ ...ok, fetch: 'no' }, 'createPusher: option "fetch" must be a function (this runtime has no global fetch: pass one); got "no"'],
    [{ ...ok, timeout: 5 }, 'createPusher: unknown option "timeout"'],
  ])('%j', (options, message) => {
    expect(() => createPusher(options as never)).toThrow(new RangeError(message))
  })

  it('refuses an OpenMetrics source (the gateway parses the text format) before sending anything', async () => {
    const pusher = createPusher({ url: gw.url, job: 'j', runId: 'r' })
    await expect(pusher.push({ contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8', metrics: () => '# EOF\n' })).rejects.toThrow(
      new RangeError('PushgatewayPusher: the source must render the text format 0.0.4 (text/plain; version=0.0.4), which the Pushgateway parses; got contentType "application/openmetrics-text; version=1.0.0; charset=utf-8"'),
    )
    await expect(pusher.add({ contentType: 'text/plain; version=0.0.4', metrics: () => new Uint8Array(1) as unknown as string })).rejects.toThrow(
      new RangeError("PushgatewayPusher: the source's metrics() must return a string; got object"),
    )
    await expect(pruneGroups({ url: gw.url, job: 'j', olderThanSeconds: 0 })).rejects.toThrow(new RangeError('pruneGroups: option "olderThanSeconds" must be a finite number > 0; got 0'))
  })

  it('makes run ids that sort by time and do not collide', () => {
    expect(newRunId(new Date('2026-01-31T23:59:59.123Z'))).toMatch(/^20260131T235959Z-[0-9a-f]{12}$/)
    const ids = new Set(Array.from({ length: 1000 }, () => newRunId()))
    expect(ids.size).toBe(1000)
  })
})
