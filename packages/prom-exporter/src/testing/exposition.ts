/**
 * A strict parser of the text exposition format, for tests: every line must
 * be a HELP, a TYPE, a blank line or a sample of the current family.
 */
export interface ParsedFamily {
  help: string
  type: string
  samples: { labels: Record<string, string>; value: number }[]
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c))
}

function parseValue(text: string): number {
  if (text === 'Nan' || text === 'NaN') return Number.NaN
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  const value = Number(text)
  if (Number.isNaN(value)) throw new Error(`bad sample value ${text}`)
  return value
}

export function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>()
  let current: ParsedFamily | undefined
  let currentName = ''
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue
    const help = /^# HELP (\S+) (.*)$/.exec(line)
    if (help !== null) {
      currentName = help[1] as string
      current = { help: unescape(help[2] as string), type: '', samples: [] }
      if (families.has(currentName)) throw new Error(`family ${currentName} appears twice`)
      families.set(currentName, current)
      continue
    }
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) {
      if (type[1] !== currentName || current === undefined) throw new Error(`TYPE for ${String(type[1])} outside its family`)
      current.type = type[2] as string
      continue
    }
    const sample = SAMPLE.exec(line)
    if (sample === null || current === undefined) throw new Error(`unparsable line: ${line}`)
    const name = sample[1] as string
    if (name !== currentName && !name.startsWith(`${currentName}_`) && `${name}_total` !== currentName) throw new Error(`sample ${name} outside family ${currentName}`)
    const labels: Record<string, string> = {}
    const body = sample[3] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const m = LABEL.exec(body)
      if (m === null) throw new Error(`bad labels: ${body}`)
      labels[m[1] as string] = unescape(m[2] as string)
    }
    current.samples.push({ labels, value: parseValue(sample[4] as string) })
  }
  return families
}
