// What a registry shows of each published package (packages/*): manifests
// with the fields a registry page and a user need, READMEs whose links work
// on a registry page (no relative link), the TypeScript versions stated.
// Run by `pnpm test` (node --test).
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { TYPESCRIPT_MIN_COMMONJS } from './readme-examples.mjs'
import { BRANCH, REPOSITORY, manifestFields, npmPage } from './repository.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const published = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => manifest.private !== true)
const names = new Set(published.map(({ manifest }) => manifest.name))
const minTypeScript = /^  typescript-min: npm:typescript@(\d+\.\d+)\.\d+$/m.exec(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8'))?.[1]

/** A semver range with an upper bound in every alternative (a bare `>=x` admits every future major). */
function bounded(range) {
  return range.split('||').every((alt) => {
    const r = alt.trim()
    return /^workspace:[\^~*]$/.test(r) || /^[\^~]\d/.test(r) || /^\d+\.\d+\.\d+$/.test(r) || /<=?\s*\d/.test(r) || /^\d+(\.\d+)?\.x$/.test(r)
  })
}

describe('published manifests', () => {
  it('are the four packages', () => {
    assert.deepEqual([...names].sort(), ['@auris/fab-hook', '@auris/metrics-http', '@auris/prom-exporter', '@auris/stability-core'])
  })

  for (const { dir, manifest } of published) {
    describe(manifest.name, () => {
      it(`point at ${REPOSITORY} (repository with directory, homepage, bugs)`, () => {
        const fields = manifestFields(dir)
        for (const key of Object.keys(fields)) assert.deepEqual(manifest[key], fields[key], key)
        assert.equal(manifest.repository.directory, `packages/${dir}`)
      })

      it('have a description, keywords, a licence and sideEffects', () => {
        assert.equal(typeof manifest.description, 'string')
        assert.ok(manifest.description.length >= 40, 'description of at least 40 characters')
        assert.ok(Array.isArray(manifest.keywords) && manifest.keywords.length >= 3, 'three keywords or more')
        for (const keyword of manifest.keywords) assert.match(keyword, /^[a-z0-9-]+$/)
        assert.equal(manifest.license, 'MIT')
        assert.equal(manifest.sideEffects, false)
      })

      it('publish publicly (no provenance: releases are made outside a CI with an OIDC provider npm trusts)', () => {
        assert.deepEqual(manifest.publishConfig, { access: 'public' })
      })

      it('bound every peer range, and mark every optional peer', () => {
        for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) assert.ok(bounded(range), `${peer} ${range} has no upper bound`)
        for (const peer of Object.keys(manifest.peerDependenciesMeta ?? {})) assert.ok(peer in (manifest.peerDependencies ?? {}), `${peer} is in peerDependenciesMeta only`)
      })

      it('ship the README, the repository’s licence and the CHANGELOG changesets writes', () => {
        assert.ok(existsSync(join(root, 'packages', dir, 'README.md')))
        assert.equal(readFileSync(join(root, 'packages', dir, 'LICENSE'), 'utf8'), readFileSync(join(root, 'LICENSE'), 'utf8'))
        // npm always packs README and LICENSE; pnpm publish packs a CHANGELOG only when `files` names it.
        assert.ok(manifest.files.includes('CHANGELOG.md'), 'files has CHANGELOG.md')
      })
    })
  }

  it('bound peer ranges (the check itself)', () => {
    assert.equal(bounded('>=0.0.21'), false)
    assert.equal(bounded('^15.0.0 || >=16'), false)
    assert.equal(bounded('>=0.0.21 <0.1.0'), true)
    assert.equal(bounded('^4.12.22'), true)
    assert.equal(bounded('workspace:^'), true)
  })
})

/** Every link target of a Markdown file: inline links and images, reference definitions, HTML href/src. Code is not prose. */
export function linkTargets(markdown) {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
  const targets = []
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1])
  for (const m of prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) targets.push(m[1])
  for (const m of prose.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/g)) targets.push(m[1])
  return targets
}

/** Heading anchors as GitHub and npm render them. */
function headingAnchors(markdown) {
  const seen = new Map()
  const anchors = new Set()
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const slug = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    anchors.add(n === 0 ? slug : `${slug}-${String(n)}`)
  }
  return anchors
}

describe('published READMEs', () => {
  it('finds links of every kind (the check itself)', () => {
    const md = '[a](../x.md) ![i](img.png "t")\n[r]: ./ref\n<a href="../h">h</a> `[no](code)`\n```\n[no](block)\n```\n[ok](https://x.y) [anchor](#top)'
    assert.deepEqual(linkTargets(md), ['../x.md', 'img.png', 'https://x.y', '#top', './ref', '../h'])
  })

  for (const { dir, manifest } of published) {
    const readme = readFileSync(join(root, 'packages', dir, 'README.md'), 'utf8')

    it(`${manifest.name}: no relative link (a registry page has no files next to it)`, () => {
      const relative = linkTargets(readme).filter((target) => !/^(https:\/\/|http:\/\/|mailto:|#)/.test(target))
      assert.deepEqual(relative, [])
    })

    it(`${manifest.name}: links into the repository name files and folders that exist, anchors name headings`, () => {
      for (const target of linkTargets(readme)) {
        const [path, anchor] = target.split('#')
        if (target.startsWith('#')) {
          assert.ok(headingAnchors(readme).has(anchor), `#${anchor} is no heading of the README`)
        } else if (path.startsWith(`${REPOSITORY}/blob/${BRANCH}/`) || path.startsWith(`${REPOSITORY}/tree/${BRANCH}/`)) {
          const kind = path.startsWith(`${REPOSITORY}/blob/`) ? 'file' : 'folder'
          const file = join(root, path.slice(`${REPOSITORY}/blob/${BRANCH}/`.length))
          assert.ok(existsSync(file), `${target}: no ${file}`)
          assert.equal(statSync(file).isFile() ? 'file' : 'folder', kind, `${target}: blob/ is for files, tree/ for folders`)
          if (anchor !== undefined && file.endsWith('.md')) assert.ok(headingAnchors(readFileSync(file, 'utf8')).has(anchor), `${target}: no heading #${anchor}`)
        } else if (path.startsWith(REPOSITORY)) {
          assert.fail(`${target}: link files as ${REPOSITORY}/blob/${BRANCH}/… and folders as …/tree/${BRANCH}/…`)
        } else if (path.startsWith('https://www.npmjs.com/package/@auris/')) {
          assert.ok(names.has(path.slice('https://www.npmjs.com/package/'.length)), `${target}: no such package`)
          assert.equal(path, npmPage(path.slice('https://www.npmjs.com/package/'.length)))
        }
      }
    })

    it(`${manifest.name}: states the TypeScript versions its types need, ES module and CommonJS`, () => {
      assert.ok(minTypeScript !== undefined, 'typescript-min in the catalog')
      const flat = readme.replace(/\s+/g, ' ')
      assert.ok(flat.includes(`Types need TypeScript ${minTypeScript} or later`), `"Types need TypeScript ${minTypeScript} or later"`)
      const cjs = TYPESCRIPT_MIN_COMMONJS.split('.').slice(0, 2).join('.')
      assert.ok(flat.includes(`TypeScript ${cjs} or later with \`"module": "nodenext"\``), `"TypeScript ${cjs} or later with \`"module": "nodenext"\`"`)
    })
  }

  it('the root README states the same TypeScript versions', () => {
    const flat = readFileSync(join(root, 'README.md'), 'utf8').replace(/\s+/g, ' ')
    assert.ok(flat.includes(`TypeScript ${String(minTypeScript)} or later`))
    assert.ok(flat.includes(`TypeScript ${TYPESCRIPT_MIN_COMMONJS.split('.').slice(0, 2).join('.')} or later with \`"module": "nodenext"\``))
  })
})
