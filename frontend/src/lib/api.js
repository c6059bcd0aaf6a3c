// REST client. Errors carry the server's JSON message (never a raw body) and the status code.
import { authHeaders } from './auth.js'

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

async function request(method, path, payload = undefined) {
  let response
  const headers = { Accept: 'application/json', ...authHeaders() }
  if (payload !== undefined) headers['Content-Type'] = 'application/json'
  try {
    const sent = payload === undefined ? undefined : JSON.stringify(payload)
    response = await fetch(path, { method, headers, body: sent })
  } catch {
    throw new ApiError('The server cannot be reached.', 0, 'network')
  }
  let body = null
  const type = response.headers.get('content-type') || ''
  if (type.includes('application/json')) body = await response.json().catch(() => null)
  if (!response.ok) {
    const message =
      (body && (body.message || body.error?.message || (typeof body.error === 'string' && body.error))) ||
      `Request failed (${response.status}).`
    throw new ApiError(message, response.status, body?.code || body?.error?.code)
  }
  return body
}

export const api = {
  // Public: says whether the other routes need a token, so the app never probes them for a 401.
  health: () => request('GET', '/health'),
  configCheck: () => request('GET', '/config/check'),
  agents: () => request('GET', '/agent'),
  // Paged with `limit`: `{sessions, next_cursor}`; pass `cursor` for the next page.
  sessions: ({ limit, cursor } = {}) => {
    const query = new URLSearchParams()
    if (limit) query.set('limit', String(limit))
    if (cursor) query.set('cursor', cursor)
    const text = query.toString()
    return request('GET', `/session${text ? `?${text}` : ''}`)
  },
  // Long chats: `limit` newest messages of the shown branch, or those before the message `before`.
  session: (id, { limit, before } = {}) => {
    const query = new URLSearchParams()
    if (limit) query.set('limit', String(limit))
    if (before) query.set('before', before)
    const text = query.toString()
    const suffix = text ? `?${text}` : ''
    return request('GET', `/session/${encodeURIComponent(id)}${suffix}`)
  },
  // Branches: show the branch through msgId from now on.
  switchBranch: (id, msgId) => request('PUT', `/session/${encodeURIComponent(id)}/branch`, { msg_id: msgId }),
  searchSessions: (query) => request('GET', `/session?q=${encodeURIComponent(query)}`),
  deleteSession: (id) => request('DELETE', `/session/${encodeURIComponent(id)}`),
  // {title?, pinned?}: rename and/or pin a chat.
  updateSession: (id, changes) => request('PATCH', `/session/${encodeURIComponent(id)}`, changes),
  // The chat's model settings: {model?, reasoning_effort?} (null: the server's default).
  patchSession: (id, settings) => request('PATCH', `/session/${encodeURIComponent(id)}`, settings),
  models: () => request('GET', '/model'),
  // Usage and budgets (issue 12): figures summed by the server's database.
  usage: (params) => request('GET', `/usage?${new URLSearchParams(params)}`),
  budget: () => request('GET', '/usage/budget'),
}
