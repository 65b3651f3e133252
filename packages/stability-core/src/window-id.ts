/** Longest window id accepted, in UTF-16 code units. */
export const MAX_WINDOW_ID_LENGTH = 128

/**
 * Why `id` cannot be a window id, or `null` when it can. A window id
 * becomes a Prometheus label value, so it must be a non-empty string of at
 * most {@link MAX_WINDOW_ID_LENGTH} characters, without control characters
 * (C0, DEL, C1) and without unpaired surrogates (which have no UTF-8
 * encoding and would be mangled on the wire).
 *
 * @example
 * ```ts
 * windowIdProblem('stream')   // null
 * windowIdProblem('a\nb')     // 'contains a control character (U+000A)'
 * ```
 */
export function windowIdProblem(id: unknown): string | null {
  if (typeof id !== 'string') return 'is not a string'
  if (id.length === 0) return 'is empty'
  if (id.length > MAX_WINDOW_ID_LENGTH) return `is ${String(id.length)} characters long (at most ${String(MAX_WINDOW_ID_LENGTH)})`
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return `contains a control character (U+${c.toString(16).toUpperCase().padStart(4, '0')})`
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = id.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
      return 'contains an unpaired surrogate'
    }
    if (c >= 0xdc00 && c <= 0xdfff) return 'contains an unpaired surrogate'
  }
  return null
}

/** Whether `id` is a valid window id (see {@link windowIdProblem}). */
export function isValidWindowId(id: unknown): id is string {
  return windowIdProblem(id) === null
}
