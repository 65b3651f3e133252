// `pnpm probe`: build the probe and what it depends on, quietly, then run
// it with the arguments given, so the terminal shows the probe's own output
// and the exit status is the probe's.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@auris/probe...', '--output-logs=errors-only', '--log-prefix=none'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
})
if (build.status !== 0) {
  process.stderr.write(build.stdout + build.stderr)
  process.stderr.write('\npnpm probe: the build failed (output above).\n')
  process.exit(build.status ?? 1)
}
const args = process.argv.slice(2)
const run = spawnSync(process.execPath, [fileURLToPath(new URL('../apps/probe/dist/cli.js', import.meta.url)), ...args], { stdio: 'inherit' })
process.exit(run.status ?? 1)
