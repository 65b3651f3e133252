import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { DEFAULT_RUNBOOK_BASE, alertRules } from './alerts.js'
import { RULES_FILE } from './testing/assets.js'

/**
 * Every alert links to its runbook section of the README as the registry
 * shows it: the default base is the package's registry page, and each
 * `#runbook-<alert>` anchor is the anchor of a heading of the README.
 */

const root = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string }

interface Rule {
  alert: string
  annotations: { runbook_url?: string }
}

/** Heading anchors as GitHub and npm render them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '')
  for (const m of prose.matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const slug = (m[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    anchors.add(n === 0 ? slug : `${slug}-${String(n)}`)
  }
  return anchors
}

const rulesOf = (file: { groups: { rules: Rule[] }[] }): Rule[] => file.groups.flatMap((g) => g.rules)

describe('runbook links', () => {
  it('default to the package README on its registry page', () => {
    expect(DEFAULT_RUNBOOK_BASE).toBe(`https://www.npmjs.com/package/${manifest.name}`)
    expect(DEFAULT_RUNBOOK_BASE).toBe('https://www.npmjs.com/package/@auris/prom-exporter')
  })

  it('point every rule of every group, generated and shipped, at a heading of the README', () => {
    const anchors = headingAnchors(readme)
    const generated = rulesOf(alertRules() as unknown as { groups: { rules: Rule[] }[] })
    const shipped = rulesOf(parse(readFileSync(join(root, RULES_FILE), 'utf8')) as { groups: { rules: Rule[] }[] })
    expect(shipped.map((r) => r.alert)).toEqual(generated.map((r) => r.alert))
    expect(generated.length).toBeGreaterThanOrEqual(5)
    for (const rule of [...generated, ...shipped]) {
      const anchor = `runbook-${rule.alert.toLowerCase()}`
      expect(rule.annotations.runbook_url, rule.alert).toBe(`${DEFAULT_RUNBOOK_BASE}#${anchor}`)
      expect(anchors.has(anchor), `README heading "### Runbook: ${rule.alert}" (#${anchor})`).toBe(true)
    }
  })

  it('have a README section for each alert and no section for an alert that does not exist', () => {
    const alerts = rulesOf(alertRules() as unknown as { groups: { rules: Rule[] }[] }).map((r) => r.alert)
    const sections = [...readme.matchAll(/^### Runbook: (\S+)$/gm)].map((m) => m[1])
    expect(sections.sort()).toEqual([...alerts].sort())
  })

  it('follow runbookBase, which the README documents', () => {
    const base = 'https://wiki.example/ops/atlas'
    for (const rule of rulesOf(alertRules({ runbookBase: base }) as unknown as { groups: { rules: Rule[] }[] })) {
      expect(rule.annotations.runbook_url).toBe(`${base}#runbook-${rule.alert.toLowerCase()}`)
    }
    for (const bad of ['wiki/atlas', 'https://wiki.example/ops#top', 'ftp://wiki.example', '']) {
      expect(() => alertRules({ runbookBase: bad }), bad).toThrow(`alertRules: option "runbookBase" must be an http(s) address without a #fragment; got ${JSON.stringify(bad)}`)
    }
    expect(() => alertRules({ runbookBase: 42 as never })).toThrow(RangeError)
    expect(readme).toContain('`runbookBase`')
    expect(readme).toContain(`\`DEFAULT_RUNBOOK_BASE\`\n(\`${DEFAULT_RUNBOOK_BASE}\`)`)
  })

  it('computes anchors as the registry does', () => {
    expect([...headingAnchors('# A b\n```\n# not a heading\n```\n## Runbook: StabilityLow\n### The `atlas_` prefix\n## A b\n')]).toEqual([
      'a-b',
      'runbook-stabilitylow',
      'the-atlas_-prefix',
      'a-b-1',
    ])
  })
})
