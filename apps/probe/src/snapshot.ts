/** The exposition's sample lines: comments and blank lines dropped. */
export function sampleLines(exposition: string): string[] {
  return exposition.split('\n').filter((line) => line !== '' && !line.startsWith('#'))
}

/** Sample lines of one window (`window_id="id"`), plus exporter-level lines when asked. */
export function windowLines(lines: readonly string[], windowId: string): string[] {
  const label = `window_id="${windowId.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  return lines.filter((line) => line.includes(`{${label}}`))
}
