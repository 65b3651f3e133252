import type { StabilityExporter } from '@auris/prom-exporter'
import { PushError, createPusher, pruneGroups } from '@auris/prom-exporter/push'
import { ProbeFailure, UsageError, integer } from './args.js'

/**
 * `run --push URL`: a batch run's final exposition pushed to a Pushgateway,
 * as a group of its own (`job`, the `--push-label`s, `run_id`), then the
 * job's groups older than `--push-ttl-s` deleted from the gateway.
 */

/** The flags of `--push`, for parseArgs. */
export const PUSH_FLAGS = {
  push: { type: 'string' },
  'push-job': { type: 'string' },
  'push-label': { type: 'string', multiple: true },
  'push-run-id': { type: 'string' },
  'push-ttl-s': { type: 'string' },
} as const

export interface PushOptions {
  url: string
  job: string
  labels: Record<string, string>
  /** null: a new run id. */
  runId: string | null
  /** Delete the job's groups older than this after pushing; 0: none. */
  ttlSeconds: number
}

const NAMES = Object.keys(PUSH_FLAGS)

/** `--push` and its companions, checked; `{}` without `--push`. Throws {@link UsageError}. */
export function pushOptions(v: Readonly<Record<string, unknown>>): { push?: PushOptions } {
  const url = v.push as string | undefined
  if (url === undefined) {
    const stray = NAMES.find((n) => v[n] !== undefined)
    if (stray !== undefined) throw new UsageError(`--${stray} goes with --push URL`)
    return {}
  }
  if (v.metrics === 'off') throw new UsageError('--push pushes the metrics: drop --metrics off')
  const labels: Record<string, string> = {}
  for (const pair of (v['push-label'] as string[] | undefined) ?? []) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--push-label takes NAME=VALUE, such as shard=3; got ${JSON.stringify(pair)}`)
    const name = pair.slice(0, at)
    if (name in labels) throw new UsageError(`--push-label ${name} is given twice`)
    labels[name] = pair.slice(at + 1)
  }
  const options: PushOptions = {
    url,
    job: (v['push-job'] as string | undefined) ?? 'auris-probe',
    labels,
    runId: (v['push-run-id'] as string | undefined) ?? null,
    ttlSeconds: integer('push-ttl-s', v['push-ttl-s'] as string | undefined, 3600, 0, 31_536_000),
  }
  try {
    pusherOf(options)
  } catch (error) {
    // The library names its options; say the flag instead.
    const flags: Record<string, string> = { url: '--push', job: '--push-job', groupingKey: '--push-label', runId: '--push-run-id' }
    throw new UsageError((error as Error).message.replace(/^createPusher: option "([a-zA-Z]+)"/, (_m, name: string) => flags[name] ?? name))
  }
  return { push: options }
}

function pusherOf(options: PushOptions): ReturnType<typeof createPusher> {
  return createPusher({ url: options.url, job: options.job, groupingKey: options.labels, ...(options.runId === null ? {} : { runId: options.runId }) })
}

/** What a push did. */
export interface PushOutcome {
  url: string
  runId: string
  /** Groups of the job deleted for being older than the TTL. */
  pruned: number
}

/**
 * Pushes `exporter`'s exposition (PUT: the group becomes this run's final
 * state), then prunes the job's old groups.
 *
 * @throws {ProbeFailure} when the gateway refuses, does not answer or cannot be reached.
 */
export async function pushRun(options: PushOptions, exporter: StabilityExporter): Promise<PushOutcome> {
  const pusher = pusherOf(options)
  try {
    await pusher.push(exporter)
    const pruned = options.ttlSeconds === 0 ? [] : await pruneGroups({ url: options.url, job: options.job, olderThanSeconds: options.ttlSeconds })
    return { url: pusher.url, runId: pusher.runId, pruned: pruned.length }
  } catch (error) {
    if (error instanceof PushError) throw new ProbeFailure(`push failed: ${error.message}`)
    throw error
  }
}
