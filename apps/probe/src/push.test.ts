import { createStabilityExporter } from '@auris/prom-exporter'
import { listGroups } from '@auris/prom-exporter/push'
import { StabilityWindows } from '@auris/stability-core'
import { freePort } from '@auris/test-support'
import { startPushgateway } from '@auris/test-support/pushgateway'
import { describe, expect, it } from 'vitest'
import { ProbeFailure, UsageError, parseCommand } from './args.js'
import { pushRun } from './push.js'

describe('run --push: flags', () => {
  it('parses the URL, job, labels, run id and TTL; no --push, no push', () => {
    const c = parseCommand(['--push', 'http://127.0.0.1:9091', '--push-job', 'nightly', '--push-label', 'shard=3', '--push-label', 'path=/a=b', '--push-run-id', 'r1', '--push-ttl-s', '60'])
    expect(c).toMatchObject({ command: 'run', push: { url: 'http://127.0.0.1:9091', job: 'nightly', labels: { shard: '3', path: '/a=b' }, runId: 'r1', ttlSeconds: 60 } })
    expect(parseCommand(['--push', 'https://gw.example'])).toMatchObject({ push: { url: 'https://gw.example', job: 'auris-probe', labels: {}, runId: null, ttlSeconds: 3600 } })
    expect('push' in parseCommand([])).toBe(false)
  })

  it.each([
    [['--push-job', 'x'], '--push-job goes with --push URL'],
    [['--push', 'http://h', '--metrics', 'off'], '--push pushes the metrics: drop --metrics off'],
    [['--push', 'ftp://h'], '--push must use http: or https:; got "ftp://h"'],
    [['--push', 'http://h', '--push-job', ''], '--push-job must be a string of 1 to 1024 characters; got ""'],
    [['--push', 'http://h', '--push-label', 'shard'], '--push-label takes NAME=VALUE, such as shard=3; got "shard"'],
    [['--push', 'http://h', '--push-label', '=3'], '--push-label takes NAME=VALUE, such as shard=3; got "=3"'],
    [['--push', 'http://h', '--push-label', 'a=1', '--push-label', 'a=2'], '--push-label a is given twice'],
    [['--push', 'http://h', '--push-label', 'job=x'], '--push-label must not set "job": job is an option of its own'],
    [['--push', 'http://h', '--push-run-id', ''], '--push-run-id must be a string of 1 to 128 characters; got ""'],
    [['--push', 'http://h', '--push-ttl-s', '-1'], '--push-ttl-s needs a value; got "-1" (no value here starts with "-"; numbers take no sign)'],
    [['--push', 'http://h', '--push-ttl-s', '31536001'], '--push-ttl-s must be in [0, 31536000]; got 31536001'],
    [['serve', '--push', 'http://h'], '--push is an option of run (a server is scraped, not pushed)'],
  ])('%j: %s', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(new UsageError(message))
  })
})

describe('pushRun against a real Pushgateway', () => {
  it("pushes the run's exposition as its own group and prunes the job's old groups", async () => {
    const gw = await startPushgateway()
    try {
      const windows = new StabilityWindows()
      windows.tick('global', 0.9, true)
      const exporter = createStabilityExporter()
      exporter.track(windows)
      const first = await pushRun({ url: gw.url, job: 'j', labels: { shard: '1' }, runId: 'one', ttlSeconds: 3600 }, exporter)
      expect(first).toEqual({ url: `${gw.url}/metrics/job/j/shard/1/run_id/one`, runId: 'one', pruned: 0 })
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const second = await pushRun({ url: gw.url, job: 'j', labels: {}, runId: null, ttlSeconds: 1 }, exporter)
      expect(second.pruned).toBe(1)
      expect(second.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{12}$/)
      expect((await listGroups({ url: gw.url })).map((g) => g.labels)).toEqual([{ job: 'j', run_id: second.runId }])
    } finally {
      await gw.stop()
    }
  })

  it('turns a gateway that cannot be reached into a ProbeFailure (exit status 3) that says so', async () => {
    const port = await freePort()
    const error = (await pushRun({ url: `http://127.0.0.1:${String(port)}`, job: 'j', labels: {}, runId: 'r', ttlSeconds: 0 }, createStabilityExporter()).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(ProbeFailure)
    expect(error.message).toBe(`push failed: PUT http://127.0.0.1:${String(port)}/metrics/job/j/run_id/r: connect ECONNREFUSED 127.0.0.1:${String(port)}`)
  })
})
