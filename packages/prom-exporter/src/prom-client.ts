/**
 * The prom-client adapter (`@auris/prom-exporter/prom-client`): puts an
 * exporter's families on a prom-client `Registry`, so `registry.metrics()`,
 * `getMetricsAsJSON()` and prom-client's cluster aggregation see them. Uses
 * prom-client's public API only: each family is a `Gauge` or `Counter`
 * whose `get()` answers from the exporter's per-scrape snapshot, with a
 * cluster aggregator that means something for it (`min`/`max` keep the worst
 * process for scores, EMAs, modes and rates; counters are summed).
 *
 * @module
 */
import { Counter, Gauge, Registry, type Aggregator, type MetricObjectWithValues, type MetricValue, type RegistryContentType } from 'prom-client'
import { StabilityExporter, resolveExporterOptions, type StabilityExporterOptions } from './exporter.js'
import { isMetricsEnabled, type SetupOptions } from './setup.js'
import { FAMILIES, HISTOGRAM_FAMILIES, LE_LABEL, REASON_LABEL, WINDOW_FAMILIES, WINDOW_LABEL, type FamilySpec } from './names.js'
import { REQUIRES } from './collector.js'
import { formatBound } from './format.js'
import type { StabilitySnapshot } from './snapshot.js'

type Values = MetricObjectWithValues<MetricValue<string>>

/**
 * The snapshot of the current scrape. prom-client asks every family for its
 * values within one synchronous run of `registry.metrics()` (or
 * `getMetricsAsJSON()`): the sources are read once, at the first family,
 * and the snapshot serves the others until the run ends.
 */
class ScrapeCache {
  private current: StabilitySnapshot | null = null
  /** Per window of the current snapshot: its labels with the constant labels after them (made once per scrape, only when there are constant labels). */
  private labeled: Readonly<Record<string, string>>[] | null = null

  constructor(private readonly exporter: StabilityExporter) {}

  get(): StabilitySnapshot {
    if (this.current === null) {
      this.current = this.exporter.snapshot()
      this.labeled = null
      queueMicrotask(() => {
        this.current = null
        this.labeled = null
      })
    }
    return this.current
  }

  /** The labels of window `i` of the current snapshot, constant labels included, as the exporter renders them. */
  windowLabels(snapshot: StabilitySnapshot, i: number): Readonly<Record<string, string>> {
    const own = (snapshot.windows[i] as { labels: Readonly<Record<string, string>> }).labels
    const constLabels = this.exporter.constLabels
    if (constLabels.length === 0) return own
    this.labeled ??= new Array<Readonly<Record<string, string>>>(snapshot.size)
    let labels = this.labeled[i]
    if (labels === undefined) {
      const all: Record<string, string> = { ...own }
      for (const [name, value] of constLabels) all[name] = value
      labels = all
      this.labeled[i] = labels
    }
    return labels
  }
}

/** Samples of a score-histogram family (`h`: 0 `_bucket`, 1 `_sum`, 2 `_count`), labelled as the exporter renders them. */
function histogramValues(h: number, snapshot: StabilitySnapshot, cache: ScrapeCache, constLabels: readonly (readonly [string, string])[]): MetricValue<string>[] {
  const out: MetricValue<string>[] = []
  const hist = snapshot.scoreHistograms
  if (hist === undefined) return out
  for (let i = 0; i < snapshot.size; i++) {
    const base = hist.at[i] as number
    if (base < 0) continue
    const bounds = hist.bounds[i] as readonly number[]
    if (h > 0) {
      out.push({ labels: cache.windowLabels(snapshot, i), value: hist.values[base + bounds.length + h] as number })
      continue
    }
    const id = (snapshot.windows[i] as { id: string }).id
    for (let b = 0; b <= bounds.length; b++) {
      // window_id, le, then the constant labels: the order of the exporter's own rendering.
      const labels: Record<string, string> = { [WINDOW_LABEL]: id, [LE_LABEL]: formatBound(b < bounds.length ? (bounds[b] as number) : Infinity) }
      for (const [name, value] of constLabels) labels[name] = value
      out.push({ labels, value: hist.values[base + b] as number })
    }
  }
  return out
}

function valuesOf(spec: FamilySpec, snapshot: StabilitySnapshot, cache: ScrapeCache, constLabels: readonly (readonly [string, string])[]): MetricValue<string>[] {
  const h = HISTOGRAM_FAMILIES.indexOf(spec)
  if (h >= 0) return histogramValues(h, snapshot, cache, constLabels)
  const f = WINDOW_FAMILIES.indexOf(spec)
  if (f < 0) {
    const family = snapshot.exporterFamilies.find((e) => e.spec === spec)
    return (family?.samples ?? []).map((s) => ({ labels: Object.fromEntries([...s.labels, ...constLabels]), value: s.value }))
  }
  const out: MetricValue<string>[] = []
  const required = REQUIRES[f] as number
  const stride = WINDOW_FAMILIES.length
  for (let i = 0; i < snapshot.size; i++) {
    if (((snapshot.present[i] as number) & required) !== required) continue
    out.push({ labels: cache.windowLabels(snapshot, i), value: snapshot.values[i * stride + f] as number })
  }
  return out
}

/** What a family metric needs besides prom-client's configuration. */
interface FamilyBinding {
  readonly spec: FamilySpec
  readonly cache: ScrapeCache
  readonly constLabels: readonly (readonly [string, string])[]
}

function familyValues(metric: { name: string; help: string; aggregator: Aggregator }, type: 'gauge' | 'counter' | 'untyped' | 'unknown', binding: FamilyBinding): Values {
  return {
    name: metric.name,
    help: metric.help,
    type: type as unknown as Values['type'],
    aggregator: metric.aggregator,
    values: valuesOf(binding.spec, binding.cache.get(), binding.cache, binding.constLabels),
  } as Values
}

/** A gauge family whose values come from the exporter's snapshot at scrape time. */
class FamilyGauge extends Gauge {
  constructor(
    config: { name: string; help: string; labelNames: string[]; aggregator: Aggregator },
    private readonly binding: FamilyBinding,
  ) {
    super({ ...config, registers: [] })
  }

  override get(): Promise<Values> {
    return Promise.resolve(familyValues(this as unknown as { name: string; help: string; aggregator: Aggregator }, 'gauge', this.binding))
  }
}

/** A counter family whose values come from the exporter's snapshot at scrape time. */
class FamilyCounter extends Counter {
  constructor(
    config: { name: string; help: string; labelNames: string[]; aggregator: Aggregator },
    private readonly binding: FamilyBinding,
  ) {
    super({ ...config, registers: [] })
  }

  override get(): Promise<Values> {
    return Promise.resolve(familyValues(this as unknown as { name: string; help: string; aggregator: Aggregator }, 'counter', this.binding))
  }
}

/**
 * An untyped family (the score histogram's `_bucket`, `_sum`, `_count`):
 * a prom-client `Gauge` by construction (prom-client has no untyped metric)
 * that reports its type as `untyped`, or `unknown` on an OpenMetrics
 * registry, as the exporter's own rendering does.
 */
class FamilyUntyped extends Gauge {
  constructor(
    config: { name: string; help: string; labelNames: string[]; aggregator: Aggregator },
    private readonly binding: FamilyBinding,
    private readonly registry: Registry<RegistryContentType>,
  ) {
    super({ ...config, registers: [] })
  }

  override get(): Promise<Values> {
    const type = this.registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE ? 'unknown' : 'untyped'
    return Promise.resolve(familyValues(this as unknown as { name: string; help: string; aggregator: Aggregator }, type, this.binding))
  }
}

/** The families of one exporter registered on one registry. */
export interface PromClientRegistration {
  /** The registry the families are registered on. */
  readonly registry: Registry<RegistryContentType>
  /** Unregisters the families, whatever format the registry rendered in meanwhile. */
  dispose(): void
}

const registrations = new WeakMap<Registry<RegistryContentType>, Map<string, StabilityExporter>>()

function labelNamesOf(spec: FamilySpec, constLabels: readonly (readonly [string, string])[]): string[] {
  const own =
    spec.suffix === 'stability_score_bucket' ? [WINDOW_LABEL, LE_LABEL] : spec.scope !== 'exporter' ? [WINDOW_LABEL] : spec.suffix === 'windows_rejected_total' ? [REASON_LABEL] : []
  return [...own, ...constLabels.map(([name]) => name)]
}

/**
 * Registers `exporter`'s families on `registry` (prom-client public API:
 * `Gauge`/`Counter` subclasses and `registerMetric`). The exporter's
 * constant labels are on every series, as in its own rendering; the
 * registry's default labels and content type (text or OpenMetrics) apply as
 * to any of its metrics; the exporter's own `metrics()` keeps rendering natively.
 *
 * @throws {Error} when the registry already holds an exporter with this
 *   prefix, or a metric with one of the names: the message says what to do.
 * @example
 * ```ts
 * import { register } from 'prom-client'
 * const registration = registerExporter(createStabilityExporter(), register)
 * // later
 * registration.dispose()
 * ```
 */
export function registerExporter(exporter: StabilityExporter, registry: Registry<RegistryContentType>): PromClientRegistration {
  if (!(registry instanceof Registry)) {
    throw new RangeError('registerExporter: "registry" must be a prom-client Registry (from the same prom-client the app uses)')
  }
  const byPrefix = registrations.get(registry) ?? new Map<string, StabilityExporter>()
  if (byPrefix.has(exporter.prefix)) {
    throw new Error(
      `registerExporter: this registry already has a stability exporter with prefix "${exporter.prefix}". ` +
        'Reuse that exporter (setupPrometheusMetrics() returns it), dispose() it first, or pass another prefix or registry.',
    )
  }
  for (const name of exporter.familyNames) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new Error(`registerExporter: the registry already has a metric named "${name}". Remove it, or pass another prefix or registry.`)
    }
  }
  const cache = new ScrapeCache(exporter)
  // The key each family is registered under: prom-client renames counters in place during an
  // OpenMetrics render (`x_total` becomes `x`), so the metric's own `name` cannot find it again.
  const registered = FAMILIES.map((spec) => {
    const name = exporter.names[spec.suffix]
    const config = { name, help: spec.help, labelNames: labelNamesOf(spec, exporter.constLabels), aggregator: spec.cluster as Aggregator }
    const binding = { spec, cache, constLabels: exporter.constLabels }
    const metric =
      spec.type === 'counter' ? new FamilyCounter(config, binding) : spec.type === 'untyped' ? new FamilyUntyped(config, binding, registry) : new FamilyGauge(config, binding)
    return { key: name, metric }
  })
  for (const { metric } of registered) registry.registerMetric(metric)
  byPrefix.set(exporter.prefix, exporter)
  registrations.set(registry, byPrefix)
  return {
    registry,
    dispose: () => {
      for (const { key, metric } of registered) if (registry.getSingleMetric(key) === metric) registry.removeSingleMetric(key)
      if (byPrefix.get(exporter.prefix) === exporter) byPrefix.delete(exporter.prefix)
    },
  }
}

/** An exporter whose families are also registered on a prom-client registry. */
export class PromClientStabilityExporter extends StabilityExporter {
  /** The prom-client registry the families are registered on. */
  readonly registry: Registry<RegistryContentType>
  private registration: PromClientRegistration | null = null

  /** Use {@link createStabilityExporter}. */
  constructor(registry: Registry<RegistryContentType>, prefix: string, maxWindows: number, constLabels: readonly (readonly [string, string])[]) {
    super(prefix, maxWindows, constLabels)
    this.registry = registry
  }

  /** @internal */
  attach(): void {
    this.registration = registerExporter(this, this.registry)
  }

  /** Unregisters the families from the registry and stops exporting; another exporter may then use the registry and prefix. */
  override dispose(): void {
    this.registration?.dispose()
    this.registration = null
    super.dispose()
  }
}

/** Options of the adapter's {@link createStabilityExporter}. */
export interface PromClientExporterOptions extends StabilityExporterOptions {
  /** prom-client registry to register on. Default: a new one (never the global registry). */
  registry?: Registry<RegistryContentType>
}

/**
 * Creates an exporter and registers its families on `options.registry` (a
 * new prom-client `Registry` by default, never the global one).
 *
 * @throws {RangeError} when an option is invalid.
 * @throws {Error} when the registry already has these families.
 * @example
 * ```ts
 * import { register } from 'prom-client'
 * const exporter = createStabilityExporter({ registry: register })
 * exporter.track(windows)
 * await register.metrics() // includes atlas_stability_score …
 * ```
 */
export function createStabilityExporter(options: PromClientExporterOptions = {}): PromClientStabilityExporter {
  const { prefix, maxWindows, constLabels } = resolveExporterOptions('createStabilityExporter', options, ['registry'])
  const candidate: unknown = options.registry ?? new Registry()
  if (!(candidate instanceof Registry)) {
    throw new RangeError('createStabilityExporter: option "registry" must be a prom-client Registry (from the same prom-client the app uses)')
  }
  const exporter = new PromClientStabilityExporter(candidate as Registry<RegistryContentType>, prefix, maxWindows, constLabels)
  exporter.attach()
  return exporter
}

/**
 * The exporter registered on `registry` with `prefix`, if any.
 *
 * @internal
 */
export function existingExporter(registry: Registry<RegistryContentType>, prefix: string): StabilityExporter | undefined {
  return registrations.get(registry)?.get(prefix)
}


/** Options of the adapter's {@link setupPrometheusMetrics}. */
export interface PromClientSetupOptions extends SetupOptions {
  /** prom-client registry to register on. Default: a new one per prefix. */
  registry?: Registry<RegistryContentType>
}

const defaults = new Map<string, PromClientStabilityExporter>()

/**
 * Behind `AURIS_METRICS_EXP`, like `@auris/prom-exporter/setup`'s, but on a
 * prom-client registry: `null` (nothing registered) while the flag is off;
 * else the exporter registered on `registry` with that prefix, created once.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client'
 * const exporter = await setupPrometheusMetrics({ registry: register })
 * exporter?.track(windows)
 * ```
 */
export async function setupPrometheusMetrics(options: PromClientSetupOptions = {}): Promise<StabilityExporter | null> {
  const { env, registry, ...exporterOptions } = options
  if (!isMetricsEnabled(env)) return null
  const prefix = exporterOptions.prefix ?? 'atlas_'
  if (registry === undefined) {
    let exporter = defaults.get(prefix)
    if (exporter === undefined) {
      exporter = createStabilityExporter(exporterOptions)
      defaults.set(prefix, exporter)
    }
    return exporter
  }
  return Promise.resolve(existingExporter(registry, prefix) ?? createStabilityExporter({ ...exporterOptions, registry }))
}
