import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

function files(dir: string, suffix: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...files(path, suffix))
    else if (name.endsWith(suffix) && !name.endsWith(`.test${suffix}`)) out.push(path)
  }
  return out
}

/** Names of the declarations whose JSDoc carries `@internal`. */
function internalNames(source: string): string[] {
  const names: string[] = []
  const tagged = /\/\*\*(?:(?!\*\/)[\s\S])*@internal(?:(?!\*\/)[\s\S])*\*\/\s*(?:export\s+)?(?:(?:declare|abstract|private|protected|public|static|readonly|async|get|set|function|const|let|class|interface|type)\s+)*([A-Za-z_$][\w$]*)/g
  for (const match of source.matchAll(tagged)) names.push(match[1] as string)
  return names
}

const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')

/** What a package's sources tag `@internal`, and what of it its built `.d.ts` files still declare. */
export interface PublishedTypes {
  /** The names tagged `@internal` in `src/` (tests and fixtures aside). */
  readonly tagged: readonly string[]
  /** The built declaration files under `dist/`. */
  readonly declarations: readonly string[]
  /** The tagged names that appear in one declaration file, comments aside. */
  leaked(declaration: string): string[]
  /** A declaration file's text, comments aside. */
  text(declaration: string): string
}

/**
 * Reads a package (its folder `root`, with `src/` and a built `dist/`) for a
 * test that the published types hold only the documented API: every name
 * the sources tag `@internal` must be gone from the `.d.ts` files
 * (`stripInternal`).
 */
export function publishedTypes(root: string): PublishedTypes {
  const sources = files(join(root, 'src'), '.ts').filter((path) => !path.includes('__fixtures__'))
  const tagged = [...new Set(sources.flatMap((path) => internalNames(readFileSync(path, 'utf8'))))].filter((name) => name !== 'constructor')
  const text = (declaration: string): string => withoutComments(readFileSync(declaration, 'utf8'))
  return {
    tagged,
    declarations: files(join(root, 'dist'), '.d.ts'),
    text,
    leaked: (declaration) => {
      const body = text(declaration)
      return tagged.filter((name) => new RegExp(`(?<![\\w$.'"])${name.replace(/\$/g, '\\$')}(?![\\w$'"])`).test(body))
    },
  }
}
