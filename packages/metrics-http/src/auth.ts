import type { Context, Next } from 'hono'
import { timingSafeEqual } from 'hono/utils/buffer'

/** Credentials the routes demand, when the metrics route is reachable from outside. */
export type MetricsAuth = { readonly bearerToken: string } | { readonly username: string; readonly password: string }

const REALM = 'metrics'
/** Longer headers are refused without comparing: nothing legitimate is that long. */
const MAX_HEADER = 4096

function unauthorized(challenge: string): Response {
  return new Response('Unauthorized\n', {
    status: 401,
    headers: { 'WWW-Authenticate': challenge, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
  })
}

function decodeBase64(text: string): string | null {
  try {
    const binary = atob(text)
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0))
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return null
  }
}

/** Checks the options; throws a `RangeError` naming the problem. */
export function checkAuth(auth: unknown): MetricsAuth {
  if (typeof auth !== 'object' || auth === null) throw new RangeError('metricsRoutes: option "auth" must be { bearerToken } or { username, password }')
  const a = auth as Record<string, unknown>
  if ('bearerToken' in a) {
    if (typeof a.bearerToken !== 'string' || a.bearerToken.length === 0) throw new RangeError('metricsRoutes: option "auth.bearerToken" must be a non-empty string')
    return { bearerToken: a.bearerToken }
  }
  if (typeof a.username !== 'string' || a.username.length === 0 || a.username.includes(':')) {
    throw new RangeError('metricsRoutes: option "auth.username" must be a non-empty string without ":"')
  }
  if (typeof a.password !== 'string' || a.password.length === 0) throw new RangeError('metricsRoutes: option "auth.password" must be a non-empty string')
  return { username: a.username, password: a.password }
}

/**
 * Bearer or Basic authentication. Every refusal (missing, malformed, wrong,
 * over-long) is the same 401 with a `WWW-Authenticate` challenge, and
 * secrets are compared in constant time (`timingSafeEqual` hashes both
 * sides, so the comparison does not depend on where they first differ).
 */
/** A guard: the 401 response, or `undefined` after letting the request through. */
export type Guard = (c: Context, next: Next) => Promise<Response | undefined>

export function authMiddleware(auth: MetricsAuth): Guard {
  if ('bearerToken' in auth) {
    const challenge = `Bearer realm="${REALM}"`
    return async (c, next) => {
      const header = c.req.header('Authorization') ?? ''
      const match = header.length <= MAX_HEADER ? /^Bearer +(\S+) *$/i.exec(header) : null
      // Compare even when the header is missing, so a refusal takes the same time whatever the reason.
      const ok = await timingSafeEqual(match?.[1] ?? '', auth.bearerToken)
      if (!ok || match === null) return unauthorized(challenge)
      await next()
      return undefined
    }
  }
  const challenge = `Basic realm="${REALM}", charset="UTF-8"`
  return async (c, next) => {
    const header = c.req.header('Authorization') ?? ''
    const match = header.length <= MAX_HEADER ? /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header) : null
    const decoded = match === null ? null : decodeBase64(match[1] as string)
    const colon = decoded?.indexOf(':') ?? -1
    const user = decoded !== null && colon >= 0 ? decoded.slice(0, colon) : ''
    const password = decoded !== null && colon >= 0 ? decoded.slice(colon + 1) : ''
    const [userOk, passwordOk] = await Promise.all([timingSafeEqual(user, auth.username), timingSafeEqual(password, auth.password)])
    if (!userOk || !passwordOk || colon < 0) return unauthorized(challenge)
    await next()
    return undefined
  }
}
