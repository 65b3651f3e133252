import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { MAX_BEARER_TOKEN_LENGTH, checkAuth } from './auth.js'
import { metricsRoutes } from './routes.js'

const source = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: () => 'a 1\n' }

describe('checkAuth', () => {
  it('refuses at configuration a bearer token no request can match, naming the field and the position, never the secret', () => {
    const cases: [string, RegExp][] = [
      ['two words', /the token given has a space at index 3$/],
      ['tab\there', /has a tab at index 3$/],
      ['ünïcode-token', /has U\+00FC at index 0$/],
      ['tok€n', /has U\+20AC at index 3$/],
      ['new\nline', /has U\+000A at index 3$/],
      ['x'.repeat(MAX_BEARER_TOKEN_LENGTH + 1), /is 4090 characters long$/],
    ]
    for (const [token, message] of cases) {
      expect(() => checkAuth({ bearerToken: token })).toThrow(RangeError)
      expect(() => checkAuth({ bearerToken: token })).toThrow(/^metricsRoutes: option "auth.bearerToken" must be 1 to 4089 visible ASCII characters \(0x21-0x7E\)/)
      expect(() => checkAuth({ bearerToken: token })).toThrow(message)
      expect(() => metricsRoutes({ sources: source, auth: { bearerToken: token } })).toThrow(message)
      try {
        checkAuth({ bearerToken: token })
      } catch (error) {
        expect((error as Error).message).not.toContain(token)
      }
    }
  })

  it('accepts every visible ASCII character and the longest token a header can carry, and that token then matches', async () => {
    const every = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('')
    expect(checkAuth({ bearerToken: every })).toEqual({ bearerToken: every })
    const longest = 'k'.repeat(MAX_BEARER_TOKEN_LENGTH)
    for (const token of [every, longest]) {
      const app = new Hono().route('/m', metricsRoutes({ sources: source, enabled: true, auth: { bearerToken: token } }))
      expect((await app.request('/m', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
      expect((await app.request('/m', { headers: { Authorization: `Bearer ${token}x` } })).status).toBe(401)
    }
  })

  it('says what is missing when the token is unset or empty', () => {
    expect(() => checkAuth({ bearerToken: undefined })).toThrow('metricsRoutes: option "auth.bearerToken" must be a non-empty string; got undefined (is the environment variable or secret set?)')
    expect(() => checkAuth({ bearerToken: '' })).toThrow('metricsRoutes: option "auth.bearerToken" must be a non-empty string; got an empty string (is the environment variable or secret set?)')
    expect(() => checkAuth({ bearerToken: 42 })).toThrow('metricsRoutes: option "auth.bearerToken" must be a non-empty string; got a value of type number')
  })

  it('refuses basic credentials whose header would be longer than the guard reads', async () => {
    expect(() => checkAuth({ username: 'u', password: 'p'.repeat(3100) })).toThrow(
      'metricsRoutes: options "auth.username" and "auth.password" make a 4142-byte Authorization header; at most 4096 is read',
    )
    // 'u:' + 3064 bytes encode to a 4094-byte header: accepted, and it matches.
    const longest = { username: 'u', password: 'p'.repeat(3064) }
    expect(checkAuth(longest)).toEqual(longest)
    const app = new Hono().route('/m', metricsRoutes({ sources: source, enabled: true, auth: longest }))
    const header = `Basic ${Buffer.from(`u:${longest.password}`).toString('base64')}`
    expect(header.length).toBe(4094)
    expect((await app.request('/m', { headers: { Authorization: header } })).status).toBe(200)
  })
})
