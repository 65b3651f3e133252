/**
 * Merging expositions that share metric families. Two sources that both
 * export a family (an exporter and the prom-client registry it is
 * registered on, or one source given twice) would otherwise produce two
 * `# HELP` lines for one name, which `promtool check metrics` and
 * Prometheus reject: the merge keeps one HELP/TYPE per family, puts all its
 * samples under it, and drops a series a later source repeats.
 */

/** Raised when two sources declare one family with different types: no merge can make that valid. */
export class FamilyConflictError extends Error {
  /** The family's name. */
  readonly family: string
  /** The types the sources declared for it, in source order. */
  readonly types: readonly string[]

  /** The conflict on `family`, declared with each of `types`. */
  constructor(family: string, types: readonly string[]) {
    super(`metrics sources disagree on the type of family "${family}" (${types.join(' / ')}); serve them on separate routes`)
    this.name = 'FamilyConflictError'
    this.family = family
    this.types = types
  }
}

interface Family {
  readonly name: string
  help: string | undefined
  type: string | undefined
  readonly meta: string[]
  readonly samples: string[]
  readonly series: Set<string>
}

const SAMPLE_SUFFIXES = ['_total', '_created', '_bucket', '_count', '_sum', '_info', '_gcount', '_gsum']

/** The name a `# HELP`/`# TYPE`/`# UNIT` line is about, or undefined for another comment. */
function metaName(line: string): { kind: string; name: string; rest: string } | undefined {
  const m = /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/.exec(line)
  return m === null ? undefined : { kind: m[1] as string, name: m[2] as string, rest: m[3] ?? '' }
}

/** `name{labels}` of a sample line: its series, without value or timestamp. Label values may hold `}` and spaces inside quotes. */
function seriesOf(line: string): string {
  const brace = line.indexOf('{')
  const space = line.indexOf(' ')
  if (brace < 0 || (space >= 0 && space < brace)) return space < 0 ? line : line.slice(0, space)
  let quoted = false
  for (let i = brace + 1; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c === 92 /* \ */) i++
    else if (c === 34 /* " */) quoted = !quoted
    else if (c === 125 /* } */ && !quoted) return line.slice(0, i + 1)
  }
  return line
}

function sampleName(series: string): string {
  const brace = series.indexOf('{')
  return brace < 0 ? series : series.slice(0, brace)
}

/** Family names a text declares or samples, for a cheap overlap test before any merge. */
export function familyNames(text: string): Set<string> {
  const names = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue
    const meta = line.startsWith('#') ? metaName(line) : undefined
    if (meta !== undefined) names.add(meta.name)
    else if (!line.startsWith('#')) names.add(sampleName(seriesOf(line)))
  }
  return names
}

/** Whether two of `texts` share a family name (or a bare sample name). */
export function shareFamilies(texts: readonly string[]): boolean {
  const seen = new Set<string>()
  for (const text of texts) {
    const names = familyNames(text)
    for (const name of names) if (seen.has(name)) return true
    for (const name of names) seen.add(name)
  }
  return false
}

/**
 * One exposition from several: each family once, under the first source's
 * HELP (and UNIT), in order of first appearance; a series a later source
 * repeats is dropped (the first source wins). `texts` carry no `# EOF`.
 *
 * @throws {FamilyConflictError} when two sources give one family different types.
 */
export function mergeFamilies(texts: readonly string[], openMetrics: boolean): string {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = families.get(name)
    if (f === undefined) {
      f = { name, help: undefined, type: undefined, meta: [], samples: [], series: new Set() }
      families.set(name, f)
    }
    return f
  }
  for (const text of texts) {
    let current: Family | undefined
    for (const line of text.split('\n')) {
      if (line === '' || line === '# EOF') continue
      if (line.startsWith('#')) {
        const meta = metaName(line)
        if (meta === undefined) continue
        const f = family(meta.name)
        current = f
        if (meta.kind === 'HELP') {
          if (f.help === undefined) {
            f.help = line
            f.meta.push(line)
          }
        } else if (meta.kind === 'TYPE') {
          if (f.type === undefined) {
            f.type = meta.rest
            f.meta.push(line)
          } else if (f.type !== meta.rest) throw new FamilyConflictError(meta.name, [f.type, meta.rest])
        } else if (!f.meta.some((m) => m.startsWith('# UNIT '))) f.meta.push(line)
        continue
      }
      const series = seriesOf(line)
      const name = sampleName(series)
      const owner =
        current !== undefined && (name === current.name || SAMPLE_SUFFIXES.some((s) => name === `${current?.name ?? ''}${s}`)) ? current : (current = family(name))
      if (owner.series.has(series)) continue
      owner.series.add(series)
      owner.samples.push(line)
    }
  }
  const blocks: string[] = []
  for (const f of families.values()) blocks.push([...f.meta, ...f.samples].join('\n'))
  return openMetrics ? `${blocks.join('\n')}\n# EOF\n` : `${blocks.join('\n\n')}\n`
}
