/**
 * Anything that renders Prometheus exposition text. A prom-client
 * `Registry` is one; so is `@auris/prom-exporter`'s `StabilityExporter`.
 * The HTTP layer needs nothing else, so it never imports prom-client.
 */
export interface MetricsSource {
  readonly contentType: string
  metrics(): Promise<string> | string
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

/** Raised when sources disagree on the format: their texts cannot be concatenated. */
export class MixedFormatsError extends Error {
  constructor(readonly contentTypes: readonly string[]) {
    super(`metrics sources use different formats (${contentTypes.join(' / ')}); serve them on separate routes`)
    this.name = 'MixedFormatsError'
  }
}

const EOF_LINE = '# EOF\n'

/** Runs `work` with a time bound; the timer never outlives the answer. */
async function within<T>(timeoutMs: number, work: () => Promise<T> | T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      Promise.resolve().then(work),
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

/**
 * Renders every source, concurrently, within `timeoutMs`, and concatenates
 * the texts. OpenMetrics sources end with `# EOF`: only the last one keeps it.
 */
export async function collect(sources: readonly MetricsSource[], timeoutMs: number): Promise<{ contentType: string; body: string }> {
  const contentType = sources[0]?.contentType ?? PROMETHEUS_CONTENT_TYPE
  const types = [...new Set(sources.map((s) => s.contentType))]
  if (types.length > 1) throw new MixedFormatsError(types)
  const texts = await within(timeoutMs, () => Promise.all(sources.map(async (s) => s.metrics())))
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
