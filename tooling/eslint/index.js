// @ts-check
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/**
 * Globals that only exist on Node (or that Node adds beside the web
 * platform). Runtime-neutral code must reach the host through an injected
 * value instead, so it also loads on Workers, Deno and browsers.
 */
const NODE_ONLY_GLOBALS = ['process', 'Buffer', 'global', 'require', 'module', '__dirname', '__filename', 'setImmediate', 'clearImmediate']

/** Files where Node is the host by contract: Node adapters, tests, benchmarks, configs. */
const NODE_ALLOWED = ['**/adapter/node/**', '**/*.test.ts', '**/testing/**', '**/bench/**', 'scripts/**', '*.config.ts', '*.config.js']

/**
 * @param {string} tsconfigRootDir
 * @returns {import('eslint').Linter.Config[]}
 */
function base(tsconfigRootDir) {
  return defineConfig(
    { ignores: ['dist/**', 'coverage/**', 'node_modules/**', '**/*.d.ts'] },
    js.configs.recommended,
    ...tseslint.configs.strictTypeChecked,
    ...tseslint.configs.stylisticTypeChecked,
    {
      languageOptions: {
        parserOptions: { projectService: true, tsconfigRootDir },
      },
      linterOptions: { reportUnusedDisableDirectives: 'error' },
      rules: {
        '@typescript-eslint/explicit-module-boundary-types': 'error',
        '@typescript-eslint/consistent-type-imports': 'error',
        '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
        // strictTypeChecked forbids `!`; this stylistic rule asks for it. Explicit `as T` wins.
        '@typescript-eslint/non-nullable-type-assertion-style': 'off',
        '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
        'no-restricted-syntax': [
          'error',
          { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
        ],
      },
    },
    {
      files: ['**/*.js', '**/*.mjs'],
      ...tseslint.configs.disableTypeChecked,
    },
    {
      files: ['**/*.test.ts', '**/bench/**'],
      rules: {
        // Tests poke at invalid input on purpose.
        '@typescript-eslint/no-unsafe-argument': 'off',
        '@typescript-eslint/no-unsafe-assignment': 'off',
        '@typescript-eslint/no-unsafe-member-access': 'off',
        '@typescript-eslint/no-non-null-assertion': 'off',
        '@typescript-eslint/no-explicit-any': 'off',
        '@typescript-eslint/no-unsafe-return': 'off',
        '@typescript-eslint/no-unsafe-call': 'off',
        '@typescript-eslint/no-dynamic-delete': 'off',
        '@typescript-eslint/explicit-module-boundary-types': 'off',
      },
    },
    {
      files: ['*.config.ts', '*.config.js'],
      rules: { 'no-restricted-syntax': 'off' },
    },
  )
}

/**
 * Config for packages that run on any JavaScript runtime: no `node:*`
 * import, no Node-only global, except under an `adapter/node` folder and in
 * tests, benchmarks and config files.
 *
 * @param {string} tsconfigRootDir the package directory (`import.meta.dirname`)
 * @param {{ forbid?: string[] }} [options] packages the sources must not import either (say, `prom-client` in the HTTP layer)
 * @returns {import('eslint').Linter.Config[]}
 */
export function neutral(tsconfigRootDir, options = {}) {
  const forbidden = (options.forbid ?? []).map((name) => ({
    name,
    message: `This package must not depend on ${name}: take what you need as an argument (a structural type) instead.`,
  }))
  return defineConfig(
    base(tsconfigRootDir),
    {
      files: ['**/*.ts'],
      ignores: NODE_ALLOWED,
      languageOptions: { globals: { ...globals['shared-node-browser'] } },
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: forbidden,
            patterns: [
              {
                regex: '^node:',
                message: 'Runtime-neutral package: move Node-specific code under an adapter/node folder.',
              },
            ],
          },
        ],
        'no-restricted-globals': [
          'error',
          ...NODE_ONLY_GLOBALS.map((name) => ({
            name,
            message: `"${name}" is Node-only; take it as an injected option so the package runs on every runtime.`,
          })),
        ],
      },
    },
    {
      files: NODE_ALLOWED,
      languageOptions: { globals: { ...globals.node } },
    },
  )
}

/**
 * Config for Node-only code (apps, scripts, Node adapters).
 *
 * @param {string} tsconfigRootDir the package directory (`import.meta.dirname`)
 * @returns {import('eslint').Linter.Config[]}
 */
export function node(tsconfigRootDir) {
  return defineConfig(base(tsconfigRootDir), { languageOptions: { globals: { ...globals.node } } })
}
