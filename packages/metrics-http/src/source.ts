/**
 * Anything that renders Prometheus exposition text. A prom-client
 * `Registry` is one; so is `@auris/prom-exporter`'s `StabilityExporter`.
 * The HTTP layer needs nothing else, so it never imports prom-client.
 */
export interface MetricsSource {
  readonly contentType: string
  metrics(): Promise<string> | string
  /**
   * Optional: the same exposition as a string or as UTF-8 bytes, whichever
   * the source makes more cheaply. A source that renders into bytes
   * (`@auris/prom-exporter`'s exporter does) saves decoding a large text to
   * a string only for the server to encode it back. Used when the source is
   * served alone.
   */
  metricsBody?(): Promise<string | Uint8Array> | string | Uint8Array
}

/** The classic text format, prom-client's default. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Whether `value` looks like a {@link MetricsSource}. */
export function isMetricsSource(value: unknown): value is MetricsSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { contentType?: unknown }).contentType === 'string' &&
    typeof (value as { metrics?: unknown }).metrics === 'function'
  )
}

/** Raised when a source takes longer than the configured bound. */
export class SourceTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`metrics source did not answer within ${String(timeoutMs)} ms`)
    this.name = 'SourceTimeoutError'
  }
}

/** Raised when a source answers with something that is not exposition text. */
export class InvalidTextError extends Error {
  constructor(what: string) {
    super(`metrics source returned ${what}, not exposition text`)
    this.name = 'InvalidTextError'
  }
}

/**
 * Checks what a source returned: text without NUL characters, or bytes.
 * The exposition itself is not parsed (that would cost more than rendering
 * it); a NUL is the cheap tell of binary garbage, which would otherwise
 * reach Prometheus as a failed scrape with no hint of the source.
 */
function checkText(value: unknown): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new InvalidTextError('text with a NUL character')
    return
  }
  // Bytes come from metricsBody(), a renderer's own fast path: scanning megabytes of them would
  // cost a third of the render (measured), for a check the renderer's escaping already makes.
  if (value instanceof Uint8Array) return
  throw new InvalidTextError(value === null ? 'null' : Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`)
}

/** Raised when sources disagree on the format: their texts cannot be concatenated. */
export class MixedFormatsError extends Error {
  constructor(readonly contentTypes: readonly string[]) {
    super(`metrics sources use different formats (${contentTypes.join(' / ')}); serve them on separate routes`)
    this.name = 'MixedFormatsError'
  }
}

const EOF_LINE = '# EOF\n'

const SETTLED_CHECK = Symbol('pending')

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/**
 * Waits for `value` at most `timeoutMs`. A value that is not a promise, or
 * a promise already settled (an exporter renders synchronously inside an
 * async `metrics()`), needs no timer: a timer per scrape cost a quarter of
 * the route's throughput. Otherwise the wait races a timer that never
 * outlives the answer.
 */
async function within<T>(timeoutMs: number, value: T | Promise<T>): Promise<T> {
  if (!isThenable(value)) return value
  // Reactions run in registration order: a settled `value` wins this race, a pending one loses it.
  const first = await Promise.race([value, Promise.resolve(SETTLED_CHECK)])
  if (first !== SETTLED_CHECK) return first
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      value,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new SourceTimeoutError(timeoutMs))
        }, timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Calls `fn`, turning a synchronous throw into a rejection. */
function attempt<T>(fn: () => T | Promise<T>): T | Promise<T> {
  try {
    return fn()
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

function render(source: MetricsSource): string | Promise<string> {
  return attempt(() => source.metrics())
}

/**
 * Renders every source, concurrently, within `timeoutMs`, and concatenates
 * the texts. OpenMetrics sources end with `# EOF`: only the last one keeps it.
 */
export async function collect(sources: readonly MetricsSource[], timeoutMs: number): Promise<{ contentType: string; body: string | Uint8Array }> {
  const contentType = sources[0]?.contentType ?? PROMETHEUS_CONTENT_TYPE
  const types = [...new Set(sources.map((s) => s.contentType))]
  if (types.length > 1) throw new MixedFormatsError(types)
  const only = sources.length === 1 ? (sources[0] as MetricsSource) : undefined
  if (only?.metricsBody !== undefined && !contentType.startsWith('application/openmetrics-text')) {
    const body = await within(timeoutMs, attempt(() => (only.metricsBody as () => string | Uint8Array | Promise<string | Uint8Array>).call(only)))
    checkText(body)
    return { contentType, body }
  }
  const texts = only !== undefined ? [await within(timeoutMs, render(only))] : await within(timeoutMs, Promise.all(sources.map(async (s) => render(s))))
  for (const text of texts) checkText(text)
  const openMetrics = contentType.startsWith('application/openmetrics-text')
  let body = ''
  for (const text of texts) {
    let part = openMetrics && text.endsWith(EOF_LINE) ? text.slice(0, -EOF_LINE.length) : text
    if (part !== '' && !part.endsWith('\n')) part += '\n'
    body += part
  }
  if (openMetrics) body += EOF_LINE
  return { contentType, body }
}
