// Where the source lives: the one place to change when the repository moves.
// Manifests (repository, homepage, bugs), the published READMEs' links and the
// tests that check them (scripts/published.test.mjs) derive from these; after a
// change, `node scripts/repository.mjs` rewrites the manifests and README links.

/** The repository's web address, without a trailing slash. */
export const REPOSITORY = 'https://github.com/auris-dev/auris'

/** The branch the READMEs' file links point at. */
export const BRANCH = 'main'

/** The registry page of a package. */
export const npmPage = (name) => `https://www.npmjs.com/package/${name}`

/** The fields a published manifest must have, for the package in packages/<dir>. */
export function manifestFields(dir) {
  return {
    homepage: `${REPOSITORY}/tree/${BRANCH}/packages/${dir}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    repository: { type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${dir}` },
  }
}

// `node scripts/repository.mjs` after changing REPOSITORY or BRANCH: rewrites the
// manifests' fields and the published READMEs' links to the repository.
if (process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const { readFileSync, readdirSync, writeFileSync, existsSync } = await import('node:fs')
  const root = new URL('../packages/', import.meta.url)
  for (const dir of readdirSync(root)) {
    const file = new URL(`${dir}/package.json`, root)
    if (!existsSync(file)) continue
    const manifest = JSON.parse(readFileSync(file, 'utf8'))
    if (manifest.private === true) continue
    const old = /^git\+(.+)\.git$/.exec(manifest.repository?.url ?? '')?.[1]
    const oldBranch = /\/tree\/([^/]+)\/packages\//.exec(manifest.homepage ?? '')?.[1]
    writeFileSync(file, `${JSON.stringify({ ...manifest, ...manifestFields(dir) }, null, 2)}\n`)
    const readme = new URL(`${dir}/README.md`, root)
    if (old !== undefined && existsSync(readme)) {
      const text = readFileSync(readme, 'utf8').replace(new RegExp(`${old.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(blob|tree)/${oldBranch ?? BRANCH}/`, 'g'), `${REPOSITORY}/$1/${BRANCH}/`)
      writeFileSync(readme, text)
    }
    console.log(`packages/${dir}: ${REPOSITORY}`)
  }
}
