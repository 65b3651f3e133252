// Where the source lives: the one place to change when the repository moves.
// Manifests (repository, homepage, bugs), the published READMEs' links and the
// tests that check them (scripts/published.test.mjs) derive from these.

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
