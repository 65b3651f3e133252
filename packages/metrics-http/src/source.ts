import { familyNames, mergeFamilies, shareFamilies } from './merge.js'

export { FamilyConflictError } from './merge.js'

/** An exposition format: the Prometheus text format 0.0.4, or OpenMetrics 1.0. */
export type ExpositionFormat = 'prometheus' | 'openmetrics'

/**
 * Anything that renders Prometheus exposition text. A prom-client
 * `Registry` is one; so is `@auris/prom-exporter`'s `StabilityExporter`.
 * The HTTP layer needs nothing else, so it never imports prom-client.
 */
export interface MetricsSource {
  /** The `Content-Type` of what `metrics()` returns (the Prometheus text format or OpenMetrics). */
  readonly contentType: string
  /** The exposition text. */
  metrics(): Promise<string> | string
  /**
   * Optional: the same exposition as a string or as UTF-8 bytes, whichever
   * the source makes more cheaply. A source that renders into bytes
   * (`@auris/prom-exporter`'s exporter does) saves decoding a large text to
   * a string only for the server to encode it back. Used when the source is
   * served alone.
   */
  metricsBody?(): Promise<string | Uint8Array> | string | Uint8Array
  /** Optional: the formats {@link MetricsSource.expose} renders. */
  readonly formats?: readonly ExpositionFormat[]
  /**
   * Optional: the exposition in `format` as UTF-8 chunks, rendered in
   * slices that yield to the event loop (`@auris/prom-exporter`'s exporter
   * does): no string-length limit, and a scrape that takes longer than the
   * route's `timeoutMs` is stopped and answered 504 on time. Preferred over
   * `metrics()` when present.
   */
  expose?(format: ExpositionFormat): AsyncIterable<Uint8Array>
  /** Optional: the names of the families the source exports, so the routes refuse overlapping sources when they are built. */
  readonly familyNames?: readonly string[]
}

/** The classic text format, prom-client's default. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
/** OpenMetrics 1.0.0, as prom-client spells it. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

/**
 * The format a scraper asks for in its `Accept` header: OpenMetrics when it
 * accepts `application/openmetrics-text` (version 1.x or unversioned) with a
 * weight at least that of `text/plain`, else the text format 0.0.4 (what
 * every Prometheus understands).
 *
 * @example
 * ```ts
 * negotiateFormat('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5') // 'openmetrics'
 * negotiateFormat('*\/*') // 'prometheus'
 * ```
 */
export function negotiateFormat(accept: string | undefined | null): ExpositionFormat {
  // Media types are case-insensitive (RFC 9110): `Application/OpenMetrics-Text` asks for OpenMetrics too.
  if (accept?.toLowerCase().includes('openmetrics') !== true) return 'prometheus'
  let om = 0
  let text = 0
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase())
    let q = 1
    let version: string | undefined
    for (const p of params) {
      const [k, raw = ''] = p.split('=').map((x) => x.trim())
      // A parameter value may be a quoted string (RFC 9110): `version="1.0.0"` is `version=1.0.0`.
      const v = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw
      if (k === 'q') q = v === '' ? Number.NaN : Number(v)
      else if (k === 'version') version = v
    }
    if (!(q > 0 && q <= 1)) continue
    if (type === 'application/openmetrics-text' && (version === undefined || version === '1' || version.startsWith('1.'))) om = Math.max(om, q)
    else if (type === 'text/plain') text = Math.max(text, q)
  }
  return om > 0 && om >= text ? 'openmetrics' : 'prometheus'
}

function formatOfType(contentType: string): ExpositionFormat {
  return contentType.startsWith('application/openmetrics-text') ? 'openmetrics' : 'prometheus'
}

/** The format `source` answers in when `wanted` is asked for. */
function formatOf(source: MetricsSource, wanted: ExpositionFormat): ExpositionFormat {
  if (source.expose !== undefined && (source.formats ?? ['prometheus']).includes(wanted)) return wanted
  return formatOfType(source.contentType)
}

/** Family names a source declares (`familyNames`), or a prom-client registry's registered names (public `getMetricsAsArray()`). */
function declaredFamilies(source: MetricsSource): readonly string[] {
  if (source.familyNames !== undefined) return source.familyNames
  const registry = source as { getMetricsAsArray?: unknown }
  if (typeof registry.getMetricsAsArray !== 'function') return []
  const metrics = (registry.getMetricsAsArray as () => unknown)()
  return Array.isArray(metrics) ? metrics.map((m) => String((m as { name?: unknown }).name)) : []
}

/**
 * Refuses sources that would export a family twice, when the routes are
 * built: one source given twice, or two whose families overlap (an
 * exporter and the prom-client registry it is registered on). The message
 * names the family. Overlaps that appear later (families registered after
 * the routes were built) are merged at scrape time instead.
 *
 * @throws {RangeError} naming the sources and the family.
 */
export function checkSources(sources: readonly MetricsSource[]): void {
  const owners = new Map<string, number>()
  for (const [i, source] of sources.entries()) {
    const first = sources.indexOf(source)
    const names = declaredFamilies(source)
    if (first !== i) {
      throw new RangeError(
        `metricsRoutes: sources[${String(i)}] is sources[${String(first)}] again: it would export every family twice${names[0] === undefined ? '' : ` (e.g. "${names[0]}")`}; list it once`,
      )
    }
    for (const name of names) {
      const owner = owners.get(name)
      if (owner !== undefined) {
        throw new RangeError(
          `metricsRoutes: sources[${String(owner)}] and sources[${String(i)}] both export the family "${name}"; serve one of them (a prom-client registry an exporter is registered on already holds its families)`,
        )
      }
      owners.set(name, i)
    }
  }
}

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
  /** The bound the source overran, in ms. */
  readonly timeoutMs: number

  /** The timeout after `timeoutMs` ms. */
  constructor(timeoutMs: number) {
    super(`metrics source did not answer within ${String(timeoutMs)} ms`)
    this.name = 'SourceTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/** Raised when a source answers with something that is not exposition text. */
export class InvalidTextError extends Error {
  /** `what` describes what the source returned instead (`a number`, `text with a NUL character`). */
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
  /** The sources' content types, in source order. */
  readonly contentTypes: readonly string[]

  /** The mismatch between `contentTypes`. */
  constructor(contentTypes: readonly string[]) {
    super(`metrics sources use different formats (${contentTypes.join(' / ')}); serve them on separate routes`)
    this.name = 'MixedFormatsError'
    this.contentTypes = contentTypes
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

/** An exposition: text, bytes, or chunks of bytes (no size limit; served as a stream). */
export type ExpositionBody = string | Uint8Array | readonly Uint8Array[]

/** What {@link collect} answers: the content type, the body and, for bytes, their length. */
export interface Collected {
  /** The `Content-Type` of the body. */
  readonly contentType: string
  /** The exposition: a string, bytes, or byte chunks in order. */
  readonly body: ExpositionBody
  /** Byte length of a byte or stream body. */
  readonly length?: number
}

/**
 * Reads a sliced render to its end within `timeoutMs`. The render yields to
 * the event loop between slices, so the timer fires on time; the render is
 * then stopped (the iterator returned) instead of running on for nobody.
 */
async function drain(iterable: AsyncIterable<Uint8Array>, timeoutMs: number): Promise<Uint8Array[]> {
  const iterator = iterable[Symbol.asyncIterator]()
  const chunks: Uint8Array[] = []
  // Set by the timeout, read by the loop: an object, so the check survives the loop's awaits.
  const state = { stopped: false }
  const work = (async (): Promise<Uint8Array[]> => {
    for (;;) {
      const step = await iterator.next()
      if (step.done === true) return chunks
      if (state.stopped) {
        await iterator.return?.()
        return chunks
      }
      if (!(step.value instanceof Uint8Array)) throw new InvalidTextError(`a chunk of type ${typeof step.value}`)
      chunks.push(step.value)
    }
  })()
  try {
    return await within(timeoutMs, work)
  } catch (error) {
    state.stopped = true
    work.catch(() => undefined)
    throw error
  }
}

function bytesBody(chunks: readonly Uint8Array[]): { body: Uint8Array | readonly Uint8Array[]; length: number } {
  let length = 0
  for (const c of chunks) length += c.length
  return { body: chunks.length === 1 ? (chunks[0] as Uint8Array) : chunks, length }
}

/**
 * What a response carries for `body`: chunks become a stream of the same
 * chunks (no copy into one buffer, no limit on the total), made per
 * response so a cached exposition can be served again.
 */
export function responseBody(body: ExpositionBody): string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> {
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return body as Uint8Array<ArrayBuffer>
  let next = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = body[next++]
      if (chunk === undefined) controller.close()
      else controller.enqueue(chunk)
    },
  })
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** The exposition of a source that does not render in slices, as text, within `timeoutMs`. */
async function textOf(source: MetricsSource, timeoutMs: number): Promise<string> {
  const text = await within(timeoutMs, render(source))
  checkText(text)
  return text
}

/** An iterable whose creation may throw synchronously: the throw surfaces on the first `next()`. */
function attemptIterable(make: () => AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  try {
    return make()
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error))
    return {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(failure) }),
    }
  }
}

/**
 * Renders every source within `timeoutMs` in the format `wanted` (when
 * every source can render it; else the text format) and joins them. A lone
 * source that renders in slices (`expose()`) is served as its bytes,
 * chunked; several sources that share a family are merged under one
 * HELP/TYPE. OpenMetrics sources end with one `# EOF`.
 */
export async function collect(sources: readonly MetricsSource[], timeoutMs: number, wanted: ExpositionFormat = 'prometheus'): Promise<Collected> {
  if (sources.length === 0) return { contentType: PROMETHEUS_CONTENT_TYPE, body: '' }
  let formats = sources.map((s) => formatOf(s, wanted))
  // A source that cannot give OpenMetrics makes the whole answer fall back to the text format, when all can give it.
  if (wanted === 'openmetrics' && formats.some((f) => f !== 'openmetrics')) formats = sources.map((s) => formatOf(s, 'prometheus'))
  if (formats.some((f) => f !== formats[0])) {
    // A source whose format is fixed (a prom-client registry set to OpenMetrics) decides for the
    // sources that can render either, whatever the scraper asked: that is what it gets from the
    // fixed source served alone, and the only answer that joins them.
    const fixedFormats = new Set(sources.filter((s) => !(s.expose !== undefined && (s.formats ?? ['prometheus']).length > 1)).map((s) => formatOfType(s.contentType)))
    const [only] = fixedFormats
    if (fixedFormats.size === 1 && only !== undefined) formats = sources.map((s) => formatOf(s, only))
  }
  const format = formats[0] as ExpositionFormat
  if (formats.some((f) => f !== format)) throw new MixedFormatsError([...new Set(sources.map((s) => s.contentType))])
  // A source with a fixed format names the content type (a prom-client registry's exact string); else the format's own.
  const fixed = sources.find((s) => s.expose === undefined || !(s.formats ?? ['prometheus']).includes(format))
  const contentType = fixed?.contentType ?? (format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE)
  const only = sources.length === 1 ? (sources[0] as MetricsSource) : undefined
  if (only?.expose !== undefined && formatOf(only, format) === format && (only.formats ?? ['prometheus']).includes(format)) {
    const expose = only.expose.bind(only)
    return { contentType, ...bytesBody(await drain(attemptIterable(() => expose(format)), timeoutMs)) }
  }
  if (only?.metricsBody !== undefined && format === 'prometheus') {
    const body = await within(timeoutMs, attempt(() => (only.metricsBody as () => string | Uint8Array | Promise<string | Uint8Array>).call(only)))
    checkText(body)
    return { contentType, body }
  }
  const openMetrics = format === 'openmetrics'
  const read = (s: MetricsSource): Promise<string | Uint8Array[]> => (isSliced(s, format) ? drain(attemptIterable(() => (s.expose as NonNullable<MetricsSource['expose']>).call(s, format)), timeoutMs) : textOf(s, timeoutMs))
  const results = only !== undefined ? [await read(only)] : await within(timeoutMs, Promise.all(sources.map(read)))
  // Sources that rendered bytes stay bytes when no family is shared: decoding them to join them as
  // text would meet the engine's longest string (about 512 MiB: a million windows is more).
  if (results.some((r) => typeof r !== 'string') && !overlapping(sources, results)) return { contentType, ...bytesBody(joinBytes(results, openMetrics)) }
  const texts = results.map((r) => (typeof r === 'string' ? r : decodeChunks(r)))
  const parts = texts.map((text) => {
    let part = openMetrics && text.endsWith(EOF_LINE) ? text.slice(0, -EOF_LINE.length) : text
    if (part !== '' && !part.endsWith('\n')) part += '\n'
    return part
  })
  if (parts.length > 1 && shareFamilies(parts)) return { contentType, body: mergeFamilies(parts, openMetrics) }
  let body = parts.join('')
  if (openMetrics) body += EOF_LINE
  return { contentType, body }
}

/** Whether `source` renders `format` in slices (`expose()`). */
function isSliced(source: MetricsSource, format: ExpositionFormat): boolean {
  return source.expose !== undefined && (source.formats ?? ['prometheus']).includes(format)
}

function decodeChunks(chunks: readonly Uint8Array[]): string {
  let text = ''
  for (const c of chunks) text += decoder.decode(c, { stream: true })
  return text + decoder.decode()
}

/**
 * Whether two sources may share a family: names a byte source declares
 * (`familyNames`, with and without `_total`, the OpenMetrics spelling of a
 * counter family) against those of the others. A byte source that declares
 * nothing may share anything.
 */
function overlapping(sources: readonly MetricsSource[], results: readonly (string | readonly Uint8Array[])[]): boolean {
  const seen = new Set<string>()
  for (const [i, result] of results.entries()) {
    let names: Set<string>
    if (typeof result === 'string') names = familyNames(result)
    else {
      const declared = sources[i]?.familyNames
      if (declared === undefined) return true
      names = new Set<string>()
      for (const name of declared) {
        names.add(name)
        if (name.endsWith('_total')) names.add(name.slice(0, -'_total'.length))
      }
    }
    for (const name of names) if (seen.has(name)) return true
    for (const name of names) seen.add(name)
  }
  return false
}

const EOF_BYTES = new TextEncoder().encode(EOF_LINE)
const NEWLINE = new TextEncoder().encode('\n')

/** `chunks` without a final `# EOF\n`, which may span chunks. */
function withoutEof(chunks: readonly Uint8Array[]): Uint8Array[] {
  const out = [...chunks]
  let k = EOF_BYTES.length
  let i = out.length - 1
  let j = i >= 0 ? (out[i] as Uint8Array).length : 0
  while (k > 0 && i >= 0) {
    if (j === 0) {
      i--
      j = i >= 0 ? (out[i] as Uint8Array).length : 0
      continue
    }
    if ((out[i] as Uint8Array)[j - 1] !== EOF_BYTES[k - 1]) return out
    j--
    k--
  }
  if (k > 0) return out
  out.length = i + 1
  if (i >= 0) out[i] = (out[i] as Uint8Array).subarray(0, j)
  return out
}

function lastByte(chunks: readonly Uint8Array[]): number | undefined {
  for (let i = chunks.length - 1; i >= 0; i--) {
    const c = chunks[i] as Uint8Array
    if (c.length > 0) return c[c.length - 1]
  }
  return undefined
}

/** The sources' expositions joined as bytes, as the text join does: each ends with a newline, OpenMetrics with one `# EOF`. */
function joinBytes(results: readonly (string | readonly Uint8Array[])[], openMetrics: boolean): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const result of results) {
    let chunks = typeof result === 'string' ? [encoder.encode(result)] : [...result]
    if (openMetrics) chunks = withoutEof(chunks)
    const last = lastByte(chunks)
    if (last === undefined) continue
    out.push(...chunks)
    if (last !== 10) out.push(NEWLINE)
  }
  if (openMetrics) out.push(EOF_BYTES)
  return out
}
