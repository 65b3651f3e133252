/**
 * Thrown by `fromJSON()` when a snapshot is malformed, of another kind, of
 * an unknown version, or internally inconsistent. Restoring is all or
 * nothing: when this is thrown, no object was created.
 */
export class SnapshotError extends Error {
  /** Where in the snapshot the problem is, e.g. `state.ema`. */
  readonly path: string

  /** `kind` names the object restored (`StabilityTracker`), `path` the field at fault (`state.ema`), `problem` what is wrong with it. */
  constructor(kind: string, path: string, problem: string) {
    super(`Invalid ${kind} snapshot: ${path === '' ? '' : `${path} `}${problem}`)
    this.name = 'SnapshotError'
    this.path = path
  }
}

/**
 * Runs `read` over an untrusted snapshot and turns anything it throws other
 * than a {@link SnapshotError} (a getter that throws, a Proxy trap, a
 * revoked Proxy) into one, so a caller that catches `SnapshotError` to fall
 * back to a fresh state is never surprised.
 *
 * @internal
 */
export function guardRead<T>(kind: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (error instanceof SnapshotError) throw error
    let detail = 'reading it threw'
    try {
      detail = `reading it threw: ${error instanceof Error ? error.message : String(error)}`
    } catch {
      // The thrown value itself is hostile (a throwing message getter, a revoked Proxy); the generic detail stays.
    }
    throw new SnapshotError(kind, '', detail)
  }
}

/**
 * Reads fields of an untrusted snapshot, throwing {@link SnapshotError} with the field's path.
 *
 * @internal
 */
export class SnapshotReader {
  readonly kind: string

  constructor(kind: string) {
    this.kind = kind
  }

  fail(path: string, problem: string): SnapshotError {
    return new SnapshotError(this.kind, path, problem)
  }

  object(value: unknown, path: string): Readonly<Record<string, unknown>> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw this.fail(path, 'must be an object')
    return value as Readonly<Record<string, unknown>>
  }

  number(obj: Readonly<Record<string, unknown>>, key: string, path: string, min: number, max: number, integer = false): number {
    const value = obj[key]
    const where = path === '' ? key : `${path}.${key}`
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw this.fail(where, `must be ${integer ? 'an integer' : 'a finite number'} in [${String(min)}, ${String(max)}]`)
    }
    return value
  }

  nullableNumber(obj: Readonly<Record<string, unknown>>, key: string, path: string, min: number, max: number): number | null {
    if (obj[key] === null) return null
    return this.number(obj, key, path, min, max)
  }

  pairs(obj: Readonly<Record<string, unknown>>, key: string, path: string, maxLength: number): [number, number][] {
    const value = obj[key]
    const where = path === '' ? key : `${path}.${key}`
    if (!Array.isArray(value)) throw this.fail(where, 'must be an array of [ageMs, count] pairs')
    if (value.length > maxLength) throw this.fail(where, `holds ${String(value.length)} entries, more than ${String(maxLength)}`)
    const out: [number, number][] = []
    let previousAge = Infinity
    for (const [i, entry] of (value as unknown[]).entries()) {
      if (!Array.isArray(entry) || entry.length !== 2) throw this.fail(`${where}[${String(i)}]`, 'must be an [ageMs, count] pair')
      const [age, count] = entry as unknown[]
      if (typeof age !== 'number' || !Number.isFinite(age) || age < 0 || age > previousAge) {
        throw this.fail(`${where}[${String(i)}]`, 'must have a finite age >= 0, oldest first')
      }
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
        throw this.fail(`${where}[${String(i)}]`, 'must have an integer count >= 1')
      }
      previousAge = age
      out.push([age, count])
    }
    return out
  }
}
