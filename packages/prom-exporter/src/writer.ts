interface TextCodecs {
  TextEncoder: new () => { encode(text: string): Uint8Array }
  TextDecoder: new () => { decode(bytes: Uint8Array): string }
}

// Web APIs present on every runtime this package targets; reached through
// globalThis because the package compiles against plain ES2023.
const codecs = globalThis as unknown as TextCodecs
const encoder = new codecs.TextEncoder()
const decoder = new codecs.TextDecoder()

/** UTF-8 text of `bytes`. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes)
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** The bytes of `chunks`, in order, in one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  let total = 0
  for (const c of chunks) total += c.length
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** Size at which a chunk is handed out: large enough that a chunk costs nothing per line, small enough to stay in cache. */
export const CHUNK_BYTES = 256 * 1024
/** Room kept for one sample line beyond the chunk size (the longest label set plus a value). */
const LINE_ROOM = 8 * 1024

/**
 * Builds the exposition in chunks of about 256 KiB (`CHUNK_BYTES`) instead of
 * one growing buffer or a string per sample: the text of a large scrape
 * (1 GB at a million windows) never has to exist in one piece, so there is
 * no string- or buffer-length limit, and the buffer kept between scrapes
 * stays one chunk long whatever the size of the last scrape.
 *
 * The renderers write into `buf` directly through `len` (hot loop); they
 * call `room(n)` before a line of at most `n` bytes.
 */
export class ChunkWriter {
  /** The current chunk; the renderers write into it directly. */
  buf: Uint8Array
  /** Bytes written in the current chunk. */
  len = 0
  private readonly done: Uint8Array[] = []

  /** Size from which the current chunk is handed out. */
  readonly chunkLimit: number

  /** A writer that hands out chunks of about `chunkBytes` bytes (default 256 KiB). */
  constructor(chunkBytes = CHUNK_BYTES) {
    this.chunkLimit = chunkBytes
    this.buf = new Uint8Array(chunkBytes + LINE_ROOM)
  }

  /** Bytes the writer holds on to between scrapes. */
  get capacity(): number {
    return this.buf.length
  }

  /** Whether the current chunk is full and should be handed out. */
  get full(): boolean {
    return this.len >= this.chunkLimit
  }

  /** Makes sure `n` more bytes fit in the current chunk (a line longer than the spare room grows it once). */
  room(n: number): void {
    if (this.len + n <= this.buf.length) return
    if (this.len > 0) this.seal()
    if (n > this.buf.length) this.buf = new Uint8Array(n + this.chunkLimit)
  }

  /** Appends raw bytes (any length). */
  bytes(b: Uint8Array): void {
    this.room(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }

  /**
   * Moves the current chunk to the finished list. A full chunk is handed
   * over as it is (the writer takes a fresh buffer: no copy of the output);
   * a short one, the end of a small exposition, is copied, so a scrape of
   * a few lines does not cost a new chunk-sized buffer.
   */
  seal(): void {
    if (this.len === 0) return
    const size = this.chunkLimit + LINE_ROOM
    if (this.len >= this.chunkLimit / 4) {
      this.done.push(this.buf.subarray(0, this.len))
      this.buf = new Uint8Array(size)
    } else {
      this.done.push(this.buf.slice(0, this.len))
      // A line that needed a larger buffer does not keep it.
      if (this.buf.length > size) this.buf = new Uint8Array(size)
    }
    this.len = 0
  }

  /** The chunks finished so far, handed out and forgotten. */
  take(): Uint8Array[] {
    this.seal()
    return this.done.splice(0)
  }
}

/**
 * Writes a sample value at `at` in `buf` exactly as prom-client prints it
 * (`formatValue`), digits of integers directly, without making a string;
 * returns the new end. `buf` must have 32 bytes of room (more for a float,
 * whose text is at most 24 characters).
 */
export function writeValue(buf: Uint8Array, at: number, v: number, openMetrics: boolean): number {
  if (Number.isInteger(v) && v > -1e15 && v < 1e15) {
    if (v === 0) {
      buf[at] = 48
      return at + 1
    }
    if (v < 0) {
      buf[at++] = 45
      v = -v
    }
    let digits = 1
    for (let p = 10; p <= v; p *= 10) digits++
    let end = at + digits
    const last = end
    while (v > 0) {
      const q = Math.floor(v / 10)
      buf[--end] = 48 + (v - q * 10)
      v = q
    }
    return last
  }
  const text = Number.isNaN(v) ? (openMetrics ? 'NaN' : 'Nan') : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : `${v}`
  for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i)
  return at
}
