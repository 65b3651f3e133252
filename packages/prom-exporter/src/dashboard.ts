/**
 * The Grafana dashboard builder (`@auris/prom-exporter/dashboard`). It needs
 * `@grafana/grafana-foundation-sdk`, an optional peer dependency: without
 * it, importing this entry fails with an error that says what to install,
 * not with the runtime's bare "cannot find package".
 *
 * @module
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import type * as Builder from './dashboard-build.js'
import type { DashboardOptions } from './dashboard-build.js'

export type { DashboardOptions } from './dashboard-build.js'

/** The optional peer this entry point needs. */
export const GRAFANA_SDK = '@grafana/grafana-foundation-sdk'

/**
 * Turns the failure to load the SDK into an error that names the package
 * to install; any other failure is passed on as it is.
 *
 * @internal
 */
export function explainLoadFailure(error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error)
  if (!message.includes(GRAFANA_SDK)) return error
  return new Error(
    `@auris/prom-exporter/dashboard needs the optional peer dependency ${GRAFANA_SDK}, which is not installed: run \`npm install ${GRAFANA_SDK}\` (or your package manager's equivalent). The dashboard file itself ships built in @auris/prom-exporter/dashboards/atlas-stability.json.`,
    { cause: error },
  )
}

// A static import of the SDK would fail before any code here runs, with the runtime's own message.
let builder: typeof Builder
try {
  builder = await import('./dashboard-build.js')
} catch (error) {
  throw explainLoadFailure(error)
}

/**
 * The dashboard: the note's four panels (score and EMA, recommended mode,
 * events per hour, stable ticks), the anti-chatter panels and operator
 * panels, with a Prometheus datasource variable and a `window` variable.
 *
 * @example
 * ```ts
 * import { buildDashboard } from '@auris/prom-exporter/dashboard'
 * const json = JSON.stringify(buildDashboard({ prefix: 'fab_', uid: 'fab' }), null, 2)
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated -- the classic dashboard model is what dashboard-build.ts builds (see there)
export const buildDashboard: (options?: DashboardOptions) => Dashboard = builder.buildDashboard
