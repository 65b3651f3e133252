/**
 * @module
 * Push to a Prometheus Pushgateway, for batch runs and short-lived jobs that
 * end before a scrape could reach them. Runtime-neutral: the global `fetch`
 * (or an injected one), no Node import, so it runs on Node, Bun, Deno and
 * Workers.
 *
 * Every pusher puts a run id in its grouping key (`run_id`, generated unless
 * given): each run is a group, and its counters a series, of its own. A
 * second run into a fixed group would replace the first's counters with
 * smaller ones, which Prometheus reads as a counter reset (or, when the new
 * value happens to be larger, as a handful of events where there were many);
 * with a run id no pushed counter ever goes backwards, and the last pushed
 * value of a counter is that run's total, which the push rules
 * (`atlas-stability-push`) alert on. Finished runs are cleared from the
 * gateway with {@link PushgatewayPusher.delete} or {@link pruneGroups}; until
 * then the push rules ignore groups whose `push_time_seconds` is older than
 * their time to live.
 */

/** Anything that renders the Prometheus text format 0.0.4: the exporter, a prom-client `Registry`. */
export interface PushSource {
  /** The source's content type; a push needs `text/plain; version=0.0.4`. */
  readonly contentType: string
  /** The exposition text to push. */
  metrics(): Promise<string> | string
}

/** The part of `fetch` a pusher uses; the global `fetch` is one. */
export type PushFetch = (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal }) => Promise<Response>

/** Where a Pushgateway is and how to talk to it. */
export interface PushgatewayConnection {
  /** Base URL of the gateway, `http:` or `https:`, with an optional path prefix: `http://127.0.0.1:9091`. */
  url: string
  /** Longest wait for one request, answer body included, ms; an integer in [1, 600000]. Default 10000. */
  timeoutMs?: number
  /** Extra request headers, such as `authorization`. */
  headers?: Readonly<Record<string, string>>
  /** The `fetch` to use. Default: the global one. */
  fetch?: PushFetch
}

/** Options of {@link createPusher}. */
export interface PushgatewayOptions extends PushgatewayConnection {
  /** The `job` label of the group: any non-empty string. */
  job: string
  /** More grouping labels, such as `{ shard: '3' }`. Not `job`, `run_id` or `instance` (see {@link RUN_LABEL}). */
  groupingKey?: Readonly<Record<string, string>>
  /** This run's id, the `run_id` label of the group: 1 to 128 characters. Default: {@link newRunId}. */
  runId?: string
}

/**
 * The grouping label that tells runs apart. The shipped pull rules leave out
 * series that carry it (they are pushed), and the push rules join pushed
 * series to their group's `push_time_seconds` on `job`, `instance` and it.
 */
export const RUN_LABEL = 'run_id'

/** A request to the gateway that failed: no answer in time, a network error, or a status other than 2xx. */
export class PushError extends Error {
  /** Always `PushError`. */
  override name = 'PushError'
  /** Made by the pusher when a request fails; every argument is kept as the field of that name. */
  constructor(
    message: string,
    /** `PUT`, `POST`, `DELETE` or `GET`. */
    readonly method: string,
    /** The URL of the request. */
    readonly url: string,
    /** The gateway's status, or null when it did not answer. */
    readonly status: number | null,
    /** The gateway's answer (its first 1,000 characters), or '' when it did not answer. */
    readonly body: string,
  ) {
    super(message)
  }
}

const DEFAULT_TIMEOUT_MS = 10_000
const MAX_TIMEOUT_MS = 600_000
const MAX_BODY_SHOWN = 1000
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
/** Labels the grouping key must not set: `job` and `run_id` are options of their own; see {@link RUN_LABEL} for `instance`. */
const RESERVED = new Set(['job', RUN_LABEL, 'instance'])
const OPTION_KEYS = new Set(['url', 'timeoutMs', 'headers', 'fetch', 'job', 'groupingKey', 'runId'])
const PRUNE_KEYS = new Set(['url', 'timeoutMs', 'headers', 'fetch', 'job', 'olderThanSeconds', 'nowSeconds'])
const PUSH_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value))

function base64url(text: string): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_')
}

/**
 * One `/<name>/<value>` step of a grouping-key path, per the Pushgateway's
 * rules: a value with a `/`, an empty one, and `.` or `..` (which URL
 * parsers fold away as path steps) go in the `@base64` form, base64url;
 * anything else is percent-encoded.
 */
function step(name: string, value: string): string {
  if (value === '') return `/${name}@base64/=`
  if (value.includes('/') || value === '.' || value === '..') return `/${name}@base64/${base64url(value)}`
  return `/${name}/${encodeURIComponent(value)}`
}

/**
 * The path of a group: `/metrics/job/<job>` and one `/<name>/<value>` per
 * grouping label, in the given order, encoded as the Pushgateway expects.
 *
 * @example
 * ```ts
 * groupPath('nightly', { run_id: 'r1', path: '/var/tmp' }) // '/metrics/job/nightly/run_id/r1/path@base64/L3Zhci90bXA='
 * ```
 */
export function groupPath(job: string, labels: Readonly<Record<string, string>> = {}): string {
  let path = `/metrics${step('job', job)}`
  for (const [name, value] of Object.entries(labels)) path += step(name, value)
  return path
}

/**
 * A run id that sorts by start time and is unique without coordination:
 * `20260131T235959Z-9f3a1c2b04d7` (UTC time, then 48 random bits).
 */
export function newRunId(now: Date = new Date()): string {
  const random = new Uint8Array(6)
  crypto.getRandomValues(random)
  const time = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  let hex = ''
  for (const byte of random) hex += byte.toString(16).padStart(2, '0')
  return `${time}-${hex}`
}

/** A checked {@link PushgatewayConnection}: what {@link createPusher} hands to a {@link PushgatewayPusher}. */
export interface ResolvedPushgatewayConnection {
  /** The gateway's base URL, without a trailing slash. */
  readonly base: string
  /** How long a request may take, in milliseconds. */
  readonly timeoutMs: number
  /** Headers sent with every request. */
  readonly headers: Readonly<Record<string, string>>
  /** The `fetch` used. */
  readonly fetch: PushFetch
}

function checkConnection(owner: string, o: PushgatewayConnection): ResolvedPushgatewayConnection {
  if (typeof o.url !== 'string') throw new RangeError(`${owner}: option "url" must be the gateway's http(s) URL, such as http://127.0.0.1:9091; got ${show(o.url)}`)
  let parsed: URL
  try {
    parsed = new URL(o.url)
  } catch {
    throw new RangeError(`${owner}: option "url" must be the gateway's http(s) URL, such as http://127.0.0.1:9091; got ${show(o.url)}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`${owner}: option "url" must use http: or https:; got ${show(o.url)}`)
  if (parsed.search !== '' || parsed.hash !== '') throw new RangeError(`${owner}: option "url" must have no query or fragment (the group's path is appended to it); got ${show(o.url)}`)
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new RangeError(`${owner}: option "timeoutMs" must be an integer in [1, ${String(MAX_TIMEOUT_MS)}]; got ${show(timeoutMs)}`)
  }
  const headers = o.headers ?? {}
  if (typeof headers !== 'object' || (headers as unknown) === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new RangeError(`${owner}: option "headers" must be an object of strings`)
  }
  const fetchFn: unknown = o.fetch ?? (globalThis as { fetch?: unknown }).fetch
  if (typeof fetchFn !== 'function') throw new RangeError(`${owner}: option "fetch" must be a function (this runtime has no global fetch: pass one); got ${show(fetchFn)}`)
  return { base: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`, timeoutMs, headers, fetch: fetchFn as PushFetch }
}

async function request(c: ResolvedPushgatewayConnection, method: string, url: string, body?: string): Promise<string> {
  const controller = new AbortController()
  const timer = setTimeout(() => {
    controller.abort()
  }, c.timeoutMs)
  const headers: Record<string, string> = { ...c.headers }
  if (body !== undefined) headers['content-type'] = PUSH_CONTENT_TYPE
  try {
    let res: Response
    let text: string
    try {
      res = await c.fetch(url, { method, headers, ...(body === undefined ? {} : { body }), signal: controller.signal })
      text = await res.text()
    } catch (error) {
      if (controller.signal.aborted) throw new PushError(`${method} ${url}: no answer from the Pushgateway within ${String(c.timeoutMs)} ms`, method, url, null, '')
      const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)
      throw new PushError(`${method} ${url}: ${cause}`, method, url, null, '')
    }
    if (!res.ok) {
      const shown = text.trim().slice(0, MAX_BODY_SHOWN)
      throw new PushError(`${method} ${url}: the Pushgateway answered ${String(res.status)} ${res.statusText}${shown === '' ? '' : `: ${shown}`}`, method, url, res.status, shown)
    }
    return text
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Pushes a source's exposition to one group of a Pushgateway. Make one per
 * run with {@link createPusher}.
 */
export class PushgatewayPusher {
  /** The group's URL. */
  readonly url: string
  /** This run's id (the `run_id` label). */
  readonly runId: string
  /** Every label of the group, `job` and `run_id` included, as the gateway stores them. */
  readonly groupingKey: Readonly<Record<string, string>>

  private readonly connection: ResolvedPushgatewayConnection

  /** Use {@link createPusher}. */
  constructor(connection: ResolvedPushgatewayConnection, job: string, labels: Readonly<Record<string, string>>, runId: string) {
    this.connection = connection
    this.runId = runId
    const own = { ...labels, [RUN_LABEL]: runId }
    this.groupingKey = Object.freeze({ job, ...own })
    this.url = `${connection.base}${groupPath(job, own)}`
  }

  /**
   * Replaces the group with `source`'s exposition (HTTP `PUT`): families
   * the source no longer exports leave the group.
   *
   * @throws {PushError} when the gateway refuses it (the message has its
   *   status and answer), does not answer in time, or cannot be reached.
   */
  async push(source: PushSource): Promise<void> {
    await request(this.connection, 'PUT', this.url, await this.body(source))
  }

  /**
   * Merges `source`'s exposition into the group (HTTP `POST`): the families
   * it exports replace those of the same name, the others stay.
   *
   * @throws {PushError} as {@link PushgatewayPusher.push} does.
   */
  async add(source: PushSource): Promise<void> {
    await request(this.connection, 'POST', this.url, await this.body(source))
  }

  /**
   * Deletes the group (HTTP `DELETE`): its series, `push_time_seconds`
   * included, leave the gateway. The gateway answers `202 Accepted` and
   * applies the delete right after, so a read made at once may still see
   * the group for a moment. Deleting a group that does not exist succeeds.
   *
   * @throws {PushError} as {@link PushgatewayPusher.push} does.
   */
  async delete(): Promise<void> {
    await request(this.connection, 'DELETE', this.url)
  }

  private async body(source: PushSource): Promise<string> {
    if (typeof source !== 'object' || (source as unknown) === null || typeof source.metrics !== 'function') throw new RangeError('PushgatewayPusher: the source must have metrics() and contentType')
    if (typeof source.contentType !== 'string' || !source.contentType.startsWith('text/plain')) {
      throw new RangeError(`PushgatewayPusher: the source must render the text format 0.0.4 (text/plain; version=0.0.4), which the Pushgateway parses; got contentType ${show(source.contentType)}`)
    }
    const text = await source.metrics()
    if (typeof text !== 'string') throw new RangeError(`PushgatewayPusher: the source's metrics() must return a string; got ${typeof text}`)
    return text
  }
}

/**
 * Creates a pusher for one run: group `job` + `groupingKey` + `run_id`.
 *
 * @throws {RangeError} when an option is invalid (the message names it, its value and what is allowed).
 * @example
 * ```ts
 * const exporter = createStabilityExporter()
 * const pusher = createPusher({ url: 'http://127.0.0.1:9091', job: 'nightly', groupingKey: { shard: '3' } })
 * await pusher.push(exporter) // PUT http://127.0.0.1:9091/metrics/job/nightly/shard/3/run_id/20260131T235959Z-9f3a1c2b04d7
 * ```
 */
export function createPusher(options: PushgatewayOptions): PushgatewayPusher {
  const owner = 'createPusher'
  if (typeof options !== 'object' || (options as unknown) === null) throw new RangeError(`${owner}: options must be an object`)
  for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new RangeError(`${owner}: unknown option "${key}"`)
  const connection = checkConnection(owner, options)
  if (typeof options.job !== 'string' || options.job === '' || options.job.length > 1024) {
    throw new RangeError(`${owner}: option "job" must be a string of 1 to 1024 characters; got ${show(options.job)}`)
  }
  const key = options.groupingKey ?? {}
  if (typeof key !== 'object' || (key as unknown) === null) throw new RangeError(`${owner}: option "groupingKey" must be an object of label names to string values`)
  const entries = Object.entries(key)
  if (entries.length > 32) throw new RangeError(`${owner}: option "groupingKey" may hold at most 32 labels; got ${String(entries.length)}`)
  for (const [name, value] of entries) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new RangeError(`${owner}: option "groupingKey" has ${show(name)}, not a label name (${String(LABEL_NAME)}, not starting with __)`)
    if (RESERVED.has(name)) {
      throw new RangeError(
        `${owner}: option "groupingKey" must not set ${show(name)}: ${name === 'instance' ? 'the gateway leaves instance empty on pushed series, which Prometheus keeps with honor_labels' : `${name} is an option of its own`}`,
      )
    }
    if (typeof value !== 'string' || value.length > 1024) throw new RangeError(`${owner}: option "groupingKey" value of ${show(name)} must be a string of at most 1024 characters; got ${show(value)}`)
  }
  const runId = options.runId ?? newRunId()
  if (typeof runId !== 'string' || runId.length < 1 || runId.length > 128) throw new RangeError(`${owner}: option "runId" must be a string of 1 to 128 characters; got ${show(runId)}`)
  return new PushgatewayPusher(connection, options.job, Object.fromEntries(entries), runId)
}

/** A group held by a Pushgateway. */
export interface PushGroup {
  /** Its grouping labels, `job` included. */
  readonly labels: Readonly<Record<string, string>>
  /** Unix time of its last successful push, s; 0 when no push succeeded. */
  readonly pushTimeSeconds: number
}

/**
 * The groups a Pushgateway holds (its `GET /api/v1/metrics`).
 *
 * @throws {PushError} when the gateway does not answer, or not with its API's JSON.
 * @throws {RangeError} when an option is invalid.
 */
export async function listGroups(options: PushgatewayConnection): Promise<PushGroup[]> {
  const c = checkConnection('listGroups', options)
  const url = `${c.base}/api/v1/metrics`
  const text = await request(c, 'GET', url)
  let data: unknown
  try {
    data = (JSON.parse(text) as { data?: unknown }).data
  } catch {
    throw new PushError(`GET ${url}: the answer is not JSON`, 'GET', url, 200, text.slice(0, MAX_BODY_SHOWN))
  }
  if (!Array.isArray(data)) throw new PushError(`GET ${url}: the answer has no "data" list of groups`, 'GET', url, 200, text.slice(0, MAX_BODY_SHOWN))
  return data.map((raw) => {
    const group = raw as { labels?: Record<string, unknown>; push_time_seconds?: { metrics?: { value?: unknown }[] } }
    const labels: Record<string, string> = {}
    for (const [k, v] of Object.entries(group.labels ?? {})) if (typeof v === 'string') labels[k] = v
    const value = Number(group.push_time_seconds?.metrics?.[0]?.value ?? 0)
    return { labels, pushTimeSeconds: Number.isFinite(value) ? value : 0 }
  })
}

/** Options of {@link pruneGroups}. */
export interface PruneOptions extends PushgatewayConnection {
  /** Only groups of this job. */
  job: string
  /** Delete the groups whose last successful push is more than this many seconds old; > 0. */
  olderThanSeconds: number
  /** The time now, Unix seconds. Default: the clock. */
  nowSeconds?: number
}

/**
 * Deletes the groups of `job` last pushed more than `olderThanSeconds` ago
 * (and those no push ever succeeded for): a time to live for finished runs,
 * which the Pushgateway does not have. Returns the groups deleted.
 *
 * @throws {PushError} when listing or a deletion fails.
 * @throws {RangeError} when an option is invalid.
 * @example
 * ```ts
 * await pruneGroups({ url: 'http://127.0.0.1:9091', job: 'nightly', olderThanSeconds: 3600 })
 * ```
 */
export async function pruneGroups(options: PruneOptions): Promise<PushGroup[]> {
  if (typeof options !== 'object' || (options as unknown) === null) throw new RangeError('pruneGroups: options must be an object')
  for (const key of Object.keys(options)) if (!PRUNE_KEYS.has(key)) throw new RangeError(`pruneGroups: unknown option "${key}"`)
  const { job, olderThanSeconds, nowSeconds = Date.now() / 1000 } = options
  if (typeof job !== 'string' || job === '') throw new RangeError(`pruneGroups: option "job" must be a non-empty string; got ${show(job)}`)
  if (typeof olderThanSeconds !== 'number' || !Number.isFinite(olderThanSeconds) || olderThanSeconds <= 0) {
    throw new RangeError(`pruneGroups: option "olderThanSeconds" must be a finite number > 0; got ${show(olderThanSeconds)}`)
  }
  const c = checkConnection('pruneGroups', options)
  const stale = (await listGroups(options)).filter((g) => g.labels.job === job && g.pushTimeSeconds < nowSeconds - olderThanSeconds)
  for (const group of stale) {
    const { job: _job, ...rest } = group.labels
    await request(c, 'DELETE', `${c.base}${groupPath(job, rest)}`)
  }
  return stale
}
