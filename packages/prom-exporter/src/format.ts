/**
 * Text exposition helpers that reproduce prom-client 15's output byte for
 * byte (its registry.js and util.js), so the fast renderer and prom-client
 * agree on every sample.
 */

/** HELP text and metric-name escaping: backslash and newline. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Label value escaping: backslash, newline, double quote. */
export function escapeLabelValue(value: string): string {
  return escapeHelp(value).replace(/"/g, '\\"')
}

/** Sample value formatting: `Nan` (sic, as prom-client), `+Inf`, `-Inf`, else JavaScript's shortest round-trip form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return `${value}`
}

/** `{name="value",…}` for the given pairs, escaped. */
export function formatLabels(labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return ''
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`
}

/**
 * A histogram bucket's upper bound as an `le` label value, the way
 * Prometheus clients print it: `0.5`, `1`, `+Inf`.
 */
export function formatBound(bound: number): string {
  return bound === Infinity ? '+Inf' : Object.is(bound, -0) ? '0' : `${bound}`
}
