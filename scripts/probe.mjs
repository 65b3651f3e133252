// `pnpm probe`: build the probe and what it depends on, quietly, then run
// it with the arguments given, so the terminal shows the probe's own output
// and the exit status is the probe's.
import { spawn, spawnSync } from 'node:child_process'
import { constants } from 'node:os'
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
// Relative paths (--report, --state-file) are the user's: pnpm runs scripts from the root and says where it was started.
const cwd = process.env.INIT_CWD ?? process.cwd()
const probe = spawn(process.execPath, [fileURLToPath(new URL('../apps/probe/dist/cli.js', import.meta.url)), ...args], { stdio: 'inherit', cwd })
// Ctrl-C signals the whole foreground process group, the probe included: the
// probe decides how to stop, and this wrapper waits for it instead of dying
// first (which pnpm would report as a failure). A signal sent to the wrapper
// alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (signal !== 'SIGINT') probe.kill(signal)
  })
}
probe.on('exit', (code, signal) => {
  process.exit(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)))
})
