#!/usr/bin/env node
// @ts-check
// API reports for the package in the current directory: one API Extractor
// report per entry point of its package.json `exports` (read from the built
// .d.ts, so `stripInternal` has already removed what is tagged @internal),
// written to etc/<entry>.api.md ("." is etc/index.api.md, "./setup" is
// etc/setup.api.md).
//
//   auris-api-report           check (run by `lint`): fails when a report is
//                              missing, differs from the built declarations or
//                              belongs to an entry point gone from `exports`
//   auris-api-report --update  rewrites the reports, removes stale ones (run by
//                              `pnpm api:update`)
//
// Both fail on an undocumented export, a forgotten export, an @internal
// declaration left in the types, or a README without the API reference link.
//
// Reading the entry points from `exports` means a new entry gets its report
// (and is checked) without touching any config.
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const update = process.argv.includes('--update')
const projectFolder = process.cwd()
/** @type {{ name: string, exports?: Record<string, string | { types?: string }> }} */
const manifest = JSON.parse(readFileSync(join(projectFolder, 'package.json'), 'utf8'))
const reportFolder = join(projectFolder, 'etc')
const tempFolder = join(projectFolder, 'node_modules', '.api-report')

/** @returns {{ name: string, types: string }[]} */
function entryPoints() {
  const entries = []
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (subpath === './package.json') continue
    const types = typeof target === 'string' ? undefined : target.types
    if (types === undefined || !types.endsWith('.d.ts')) {
      throw new Error(`${manifest.name}: exports["${subpath}"] has no "types" condition pointing at a .d.ts file`)
    }
    entries.push({ name: subpath === '.' ? 'index' : subpath.slice(2).replaceAll('/', '-'), types })
  }
  if (entries.length === 0) throw new Error(`${manifest.name}: package.json has no "exports" entry point to report on`)
  return entries
}

/**
 * The names each entry point exports, to tell a forgotten export (a type the
 * public API uses that no entry point exports: a real finding) from a type
 * that an entry uses and another entry of the same package exports (say,
 * `/setup` returning the root entry's `StabilityExporter`).
 *
 * @param {{ name: string, types: string }[]} entries
 * @returns {Set<string>}
 */
function exportedNames(entries) {
  const files = entries.map((entry) => resolve(projectFolder, entry.types))
  const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, noEmit: true, types: [] })
  const checker = program.getTypeChecker()
  const names = new Set()
  for (const file of files) {
    const source = program.getSourceFile(file)
    const module = source && checker.getSymbolAtLocation(source)
    if (module) for (const symbol of checker.getExportsOfModule(module)) names.add(symbol.name)
  }
  return names
}

/**
 * Every message is an error, except the release-tag family: these packages
 * are 0.x and have two levels only, public (exported and documented) and
 * internal (tagged @internal and removed from the .d.ts by `stripInternal`
 * before API Extractor reads it). Requiring @public/@beta on each export
 * would repeat what the export list already says.
 */
const MESSAGES = {
  compilerMessageReporting: { default: { logLevel: 'error' } },
  extractorMessageReporting: {
    default: { logLevel: 'error', addToApiReportFile: false },
    'ae-missing-release-tag': { logLevel: 'none' },
    // Undocumented exports are real findings: every name in a report has TSDoc.
    'ae-undocumented': { logLevel: 'error', addToApiReportFile: false },
  },
  // TSDoc syntax is checked by TypeDoc (`pnpm docs`), which knows the tags
  // these sources use (@module, @throws with a type, @defaultValue).
  tsdocMessageReporting: { default: { logLevel: 'none' } },
}

/**
 * @param {{ name: string, types: string }} entry
 * @param {Set<string>} siblings names exported by the package's entry points
 * @returns {{ ok: boolean, problems: string[] }}
 */
function report(entry, siblings) {
  const reportFileName = `${entry.name}.api.md`
  const config = ExtractorConfig.prepare({
    configObjectFullPath: undefined,
    packageJsonFullPath: join(projectFolder, 'package.json'),
    configObject: {
      projectFolder,
      mainEntryPointFilePath: resolve(projectFolder, entry.types),
      compiler: {
        // Only the built declarations are analysed, with the package's own
        // compiler settings (lib, types), not its sources.
        overrideTsconfig: {
          extends: './tsconfig.build.json',
          include: [],
          files: [entry.types],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName,
        reportFolder,
        reportTempFolder: tempFolder,
        includeForgottenExports: false,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: 'lf',
      messages: MESSAGES,
    },
  })
  /** @type {string[]} */
  const problems = []
  const result = Extractor.invoke(config, {
    localBuild: update,
    showVerboseMessages: false,
    messageCallback(message) {
      message.handled = true
      // Said below in this tool's own words (the report, the command to run).
      if (message.messageId === 'console-api-report-created' || message.messageId === 'console-api-report-copied' || message.messageId === 'console-api-report-not-copied') return
      const forgotten = message.messageId === 'ae-forgotten-export' ? /The symbol "([^"]+)"/.exec(message.text)?.[1] : undefined
      if (forgotten !== undefined && siblings.has(forgotten)) return
      if (message.logLevel === ExtractorLogLevel.Error || message.logLevel === ExtractorLogLevel.Warning) {
        const where = message.sourceFilePath ? `${relative(projectFolder, message.sourceFilePath)}:${message.sourceFileLine ?? 0}: ` : ''
        problems.push(`${where}${message.text} (${message.messageId})`)
      }
    },
  })
  const path = join(reportFolder, reportFileName)
  if (existsSync(path) && /@internal\b/.test(readFileSync(path, 'utf8'))) {
    problems.push(`${relative(projectFolder, path)} names an @internal declaration: build with "stripInternal" or stop exporting it`)
  }
  if (result.apiReportChanged && !update) {
    problems.push(`etc/${reportFileName} is out of date with the public API: review the change, then run \`pnpm api:update\` and commit the report\n${changedLines(path, join(tempFolder, reportFileName))}`)
  }
  // Every message goes through the callback above (result.succeeded also counts the
  // forgotten exports it lets through), so the problems list is the verdict.
  return { ok: problems.length === 0, problems }
}

/**
 * The lines only one of the two reports has, `-` for the committed one and
 * `+` for the built one, so that a CI log shows what changed.
 *
 * @param {string} committed
 * @param {string} built
 * @returns {string}
 */
function changedLines(committed, built) {
  const before = existsSync(committed) ? readFileSync(committed, 'utf8').split('\n') : []
  const after = existsSync(built) ? readFileSync(built, 'utf8').split('\n') : []
  const had = new Set(before)
  const has = new Set(after)
  const lines = [...before.filter((line) => !has.has(line)).map((line) => `  - ${line}`), ...after.filter((line) => !had.has(line)).map((line) => `  + ${line}`)]
  return lines.length > 40 ? [...lines.slice(0, 40), `  … ${String(lines.length - 40)} more`].join('\n') : lines.join('\n')
}

/**
 * @param {string} from
 * @returns {string} the nearest folder up from `from` with a pnpm-workspace.yaml
 */
function findWorkspaceRoot(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`)
  }
}

const entries = entryPoints()
const siblings = exportedNames(entries)
let failed = false
if (update) mkdirSync(reportFolder, { recursive: true })
for (const entry of entries) {
  const { ok, problems } = report(entry, siblings)
  for (const problem of problems) console.error(`${manifest.name} (${entry.name}): ${problem}`)
  failed ||= !ok
}

// The README points users at the API reference, published at the root
// typedoc.json's `hostedBaseUrl` (one constant for every package).
const workspaceRoot = findWorkspaceRoot(projectFolder)
const typedocConfig = ts.parseConfigFileTextToJson('typedoc.json', readFileSync(join(workspaceRoot, 'typedoc.json'), 'utf8')).config
const referenceUrl = typedocConfig?.hostedBaseUrl
if (typeof referenceUrl !== 'string') {
  console.error(`${manifest.name}: the root typedoc.json has no "hostedBaseUrl" (where the API reference is published)`)
  failed = true
} else if (!readFileSync(join(projectFolder, 'README.md'), 'utf8').includes(`](${referenceUrl}`)) {
  console.error(`${manifest.name}: README.md has no link to the API reference (${referenceUrl}, "hostedBaseUrl" in the root typedoc.json)`)
  failed = true
}

// A report whose entry point left `exports` would otherwise linger unchecked.
const expected = new Set(entries.map((entry) => `${entry.name}.api.md`))
const stale = existsSync(reportFolder) ? readdirSync(reportFolder).filter((file) => file.endsWith('.api.md') && !expected.has(file)) : []
for (const file of stale) {
  if (update) rmSync(join(reportFolder, file))
  else {
    console.error(`${manifest.name}: etc/${file} reports an entry point that is no longer in "exports": run \`pnpm api:update\``)
    failed = true
  }
}

console.log(`${manifest.name}: ${entries.length} API report${entries.length === 1 ? '' : 's'} ${failed ? 'FAILED' : update ? 'written' : 'up to date'}`)
process.exitCode = failed ? 1 : 0
