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

/**
 * Builds a large text in one growable byte buffer instead of a string
 * concatenation per sample: a 10,000-window scrape is ~9 MB of text, and
 * millions of intermediate strings made garbage collection the larger part
 * of rendering. The buffer is kept between renders.
 */
export class ByteWriter {
  private buf = new Uint8Array(1 << 16)
  private len = 0

  /** Bytes written since the last reset. */
  get length(): number {
    return this.len
  }

  /** Starts a new text, keeping the allocated buffer. */
  reset(): void {
    this.len = 0
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): void {
    this.reserve(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }

  /** Appends one ASCII byte. */
  byte(code: number): void {
    this.reserve(1)
    this.buf[this.len++] = code
  }

  /** Appends an ASCII string (numbers as text, never user input). */
  ascii(text: string): void {
    const n = text.length
    this.reserve(n)
    const buf = this.buf
    let at = this.len
    for (let i = 0; i < n; i++) buf[at++] = text.charCodeAt(i)
    this.len = at
  }

  /**
   * Appends a sample value exactly as `formatValue` would print it, writing
   * the digits of small integers directly, without making a string.
   */
  value(v: number): void {
    if (Number.isInteger(v) && v > -1e15 && v < 1e15) {
      if (v === 0) {
        this.byte(48)
        return
      }
      this.reserve(17)
      const buf = this.buf
      if (v < 0) {
        buf[this.len++] = 45
        v = -v
      }
      let digits = 1
      for (let p = 10; p <= v; p *= 10) digits++
      let at = this.len + digits
      this.len = at
      while (v > 0) {
        const q = Math.floor(v / 10)
        buf[--at] = 48 + (v - q * 10)
        v = q
      }
      return
    }
    this.ascii(Number.isNaN(v) ? 'Nan' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : `${v}`)
  }

  /** A copy of the bytes written since the last reset (the buffer itself is reused). */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len)
  }

  /** The text written since the last reset. */
  toString(): string {
    return decoder.decode(this.buf.subarray(0, this.len))
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.buf.subarray(0, this.len))
    this.buf = grown
  }
}
