import type { Context } from 'hono'
import { timingSafeEqual } from 'hono/utils/buffer'

/** Credentials the routes demand, when the metrics route is reachable from outside. */
export type MetricsAuth =
  | {
      /** The token a scraper sends as `Authorization: Bearer <token>`. */
      readonly bearerToken: string
    }
  | {
      /** The user name of HTTP Basic authentication. */
      readonly username: string
      /** The password of HTTP Basic authentication. */
      readonly password: string
    }

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

const BEARER_PREFIX = 'Bearer '
const BASIC_PREFIX = 'Basic '
/** Longest bearer token that fits in a header the guard compares at all. */
export const MAX_BEARER_TOKEN_LENGTH = MAX_HEADER - BEARER_PREFIX.length

/**
 * Why `token` can never match a bearer header, or `null`. Header values
 * reach the server as bytes: a space or tab ends the token (the guard
 * reads one `\S+`), and a character outside visible ASCII (0x21-0x7E)
 * arrives as Latin-1 bytes or not at all, so a comparison with it always
 * fails. The secret itself is never quoted, only the offending position.
 */
function bearerTokenProblem(token: string): string | null {
  if (token.length > MAX_BEARER_TOKEN_LENGTH) return `is ${String(token.length)} characters long`
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i)
    if (code < 0x21 || code > 0x7e) {
      const what = code === 0x20 ? 'a space' : code === 0x09 ? 'a tab' : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
      return `has ${what} at index ${String(i)}`
    }
  }
  return null
}

/** The length of `Basic <base64(utf8(user:password))>`. */
function basicHeaderLength(username: string, password: string): number {
  const bytes = new TextEncoder().encode(`${username}:${password}`).length
  return BASIC_PREFIX.length + 4 * Math.ceil(bytes / 3)
}

/**
 * Checks the options; throws a `RangeError` naming the field and what it
 * allows. Credentials that no request could ever present (a token with a
 * space, a tab or a non-ASCII character; a header longer than the guard
 * reads) are refused here rather than answering 401 to everyone forever.
 */
export function checkAuth(auth: unknown): MetricsAuth {
  if (typeof auth !== 'object' || auth === null) throw new RangeError('metricsRoutes: option "auth" must be { bearerToken } or { username, password }')
  const a = auth as Record<string, unknown>
  if ('bearerToken' in a) {
    const token = a.bearerToken
    if (typeof token !== 'string' || token.length === 0) {
      const got = token === undefined ? 'undefined (is the environment variable or secret set?)' : typeof token === 'string' ? 'an empty string (is the environment variable or secret set?)' : `a value of type ${typeof token}`
      throw new RangeError(`metricsRoutes: option "auth.bearerToken" must be a non-empty string; got ${got}`)
    }
    const problem = bearerTokenProblem(token)
    if (problem !== null) {
      throw new RangeError(
        `metricsRoutes: option "auth.bearerToken" must be 1 to ${String(MAX_BEARER_TOKEN_LENGTH)} visible ASCII characters (0x21-0x7E), or no request can match it; the token given ${problem}`,
      )
    }
    return { bearerToken: token }
  }
  if (typeof a.username !== 'string' || a.username.length === 0 || a.username.includes(':')) {
    throw new RangeError('metricsRoutes: option "auth.username" must be a non-empty string without ":"')
  }
  if (typeof a.password !== 'string' || a.password.length === 0) throw new RangeError('metricsRoutes: option "auth.password" must be a non-empty string')
  const length = basicHeaderLength(a.username, a.password)
  if (length > MAX_HEADER) {
    throw new RangeError(`metricsRoutes: options "auth.username" and "auth.password" make a ${String(length)}-byte Authorization header; at most ${String(MAX_HEADER)} is read`)
  }
  return { username: a.username, password: a.password }
}

/** A credential check: the 401 response, or `undefined` when the request may go on. */
export type Verify = (c: Context) => Promise<Response | undefined>

/**
 * Bearer or Basic authentication. Every refusal (missing, malformed, wrong,
 * over-long) is the same 401 with a `WWW-Authenticate` challenge, and
 * secrets are compared in constant time (`timingSafeEqual` hashes both
 * sides, so the comparison does not depend on where they first differ).
 */
export function verifier(auth: MetricsAuth): Verify {
  if ('bearerToken' in auth) {
    const challenge = `Bearer realm="${REALM}"`
    return async (c) => {
      const header = c.req.header('Authorization') ?? ''
      const match = header.length <= MAX_HEADER ? /^Bearer +(\S+) *$/i.exec(header) : null
      // Compare even when the header is missing, so a refusal takes the same time whatever the reason.
      const ok = await timingSafeEqual(match?.[1] ?? '', auth.bearerToken)
      return !ok || match === null ? unauthorized(challenge) : undefined
    }
  }
  const challenge = `Basic realm="${REALM}", charset="UTF-8"`
  return async (c) => {
    const header = c.req.header('Authorization') ?? ''
    const match = header.length <= MAX_HEADER ? /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header) : null
    const decoded = match === null ? null : decodeBase64(match[1] as string)
    const colon = decoded?.indexOf(':') ?? -1
    const user = decoded !== null && colon >= 0 ? decoded.slice(0, colon) : ''
    const password = decoded !== null && colon >= 0 ? decoded.slice(colon + 1) : ''
    const [userOk, passwordOk] = await Promise.all([timingSafeEqual(user, auth.username), timingSafeEqual(password, auth.password)])
    return !userOk || !passwordOk || colon < 0 ? unauthorized(challenge) : undefined
  }
}
