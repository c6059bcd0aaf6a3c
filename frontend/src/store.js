// Application state and the actions the components call. Plain Vue reactivity, no framework.
import { reactive, computed, watch } from 'vue'
import { api, ApiError } from './lib/api.js'
import { setToken, getToken } from './lib/auth.js'
import { createChatSocket } from './lib/socket.js'
import {
  addLocalInput,
  applyChat,
  applyDelta,
  createConversation,
  eventMark,
  inputText,
  isTurnRunning,
  loadConversation,
  markLastInputFailed,
  newClientMsgId,
  prependMessages,
} from './lib/conversation.js'
import { PAGE } from './lib/history.js'
import { retryAfterOfAnswer, retryAfterOfError, secondsLeft } from './lib/backoff.js'
import { questionOf, siblingAt, siblingsWithNew, withVersions } from './lib/branches.js'
import { chatContent, imageUrlsOf } from './lib/images.js'
import { lastPickedModel, rememberPickedModel } from './lib/models.js'

export const state = reactive({
  config: null,
  configError: '',
  agents: [],
  sessions: [],
  sessionsLoaded: false,
  sessionId: null,
  sessionMissing: false,
  loadingSession: false,
  conversation: createConversation(),
  connected: false,
  everConnected: false,
  // The server refused the connection because all its live-connection slots are taken (HTTP 503).
  serverFull: false,
  needToken: false,
  tokenRejected: false,
  notice: null, // {kind: 'error'|'info', text}
  // The server's storage is full: sending is held until then (epoch ms), `waitSeconds` counts down.
  sendBlockedUntil: 0,
  waitSeconds: 0,
  // Agents that may be mentioned: the UI only autocompletes names the server knows.
  agentNames: computed(() => state.agents.map((a) => a.name)),
})

export const turnRunning = computed(() => isTurnRunning(state.conversation))
/** Whether a new turn may start now (Try again, Regenerate, resend): none running, connected, not backing off. */
export const canStartTurn = computed(() => !turnRunning.value && state.connected && !(state.waitSeconds > 0))

let backoffTimer = null

/** Hold sending for `seconds` (the server's Retry-After), counting down once a second. */
function backOff(seconds) {
  if (!seconds) return
  state.sendBlockedUntil = Math.max(state.sendBlockedUntil, Date.now() + seconds * 1000)
  state.waitSeconds = secondsLeft(state.sendBlockedUntil)
  if (backoffTimer) return
  backoffTimer = setInterval(() => {
    state.waitSeconds = secondsLeft(state.sendBlockedUntil)
    if (!state.waitSeconds) {
      clearInterval(backoffTimer)
      backoffTimer = null
    }
  }, 1000)
}

let socket = null

function showNotice(text, kind = 'error') {
  state.notice = { kind, text }
}

export function dismissNotice() {
  state.notice = null
}

function handleApiError(error, what) {
  if (error instanceof ApiError && error.status === 401) {
    state.tokenRejected = Boolean(getToken())
    state.needToken = true
    return
  }
  showNotice(`${what}: ${error.message}`)
}

// ---- URL: the open session lives in ?session=<id> so reloads and shared links reopen it.
function sessionFromUrl() {
  return new URLSearchParams(window.location.search).get('session') || null
}

function writeUrl(sessionId, { replace = false } = {}) {
  const url = new URL(window.location.href)
  if (sessionId) url.searchParams.set('session', sessionId)
  else url.searchParams.delete('session')
  if (url.href === window.location.href) return
  if (replace) window.history.replaceState({ sessionId }, '', url)
  else window.history.pushState({ sessionId }, '', url)
}

// ---- Socket
function belongsHere(payload) {
  if (!payload || typeof payload !== 'object') return false
  if (state.sessionId) return payload.session_id === state.sessionId
  // A new chat has no id until the server makes one: adopt it from the echo of our own message.
  const mine = state.conversation.messages.some(
    (m) => m.local && payload.client_msg_id && m.client_msg_id === payload.client_msg_id,
  )
  if (mine && payload.session_id) {
    state.sessionId = payload.session_id
    writeUrl(payload.session_id, { replace: true })
    socket?.emit('join', { session_id: payload.session_id })
    refreshSessions()
    return true
  }
  return false
}

function onChat(message) {
  if (!belongsHere(message)) {
    // Another session moved on (e.g. in another tab): keep the sidebar order right.
    if (message?.msg_type === 'output' && message.status !== 'progress') refreshSessions()
    return
  }
  applyChat(state.conversation, message)
  if (message.msg_type === 'output' && message.status !== 'progress') refreshSessions()
  backOff(retryAfterOfAnswer(message))
}

function onDelta(event) {
  if (!event || event.session_id !== state.sessionId) return
  applyDelta(state.conversation, event)
}

function onError(event) {
  const message = (event && typeof event.message === 'string' && event.message) || 'The server refused that.'
  if (!markLastInputFailed(state.conversation, message)) showNotice(message)
  backOff(retryAfterOfError(event))
}

export function connectSocket() {
  if (socket) return socket
  socket = createChatSocket()
  socket.on('connect', () => {
    const reconnect = state.everConnected
    state.connected = true
    state.everConnected = true
    state.serverFull = false
    if (state.sessionId) {
      socket.emit('join', { session_id: state.sessionId })
      // Whatever happened while we were away (the rest of a turn) is on the server: fetch it.
      if (reconnect) openSession(state.sessionId, { push: false, quiet: true })
    }
    if (reconnect) refreshSessions()
  })
  socket.on('disconnect', (reason) => {
    state.connected = false
    // The server closing us on purpose does not reconnect by itself.
    if (reason === 'io server disconnect') socket.connect()
  })
  socket.on('connect_error', (error) => {
    state.connected = false
    // engine.io puts the HTTP status of a refused handshake in `description`; the client retries.
    state.serverFull = error?.description === 503
    const text = `${error?.message || ''} ${JSON.stringify(error?.data ?? '')}`.toLowerCase()
    if (/auth|token|unauthori[sz]ed|401|forbidden|rejected/.test(text) && state.config?.auth_required !== false) {
      state.tokenRejected = Boolean(getToken())
      state.needToken = true
    }
  })
  socket.on('chat', onChat)
  socket.on('chat_delta', onDelta)
  socket.on('session_title', () => refreshSessions()) // the model titled a new chat (issue 13)
  socket.on('error', onError)
  socket.connect()
  return socket
}

// ---- Data
/**
 * Whether protected routes need a token we do not have. Asked of the public /health first so a
 * fresh browser shows the token dialog without a refused request (and its console error). An
 * older server without `auth_required` answers undefined: then /config/check's 401 decides.
 */
async function tokenMissing() {
  if (getToken()) return false
  try {
    const health = await api.health()
    return health?.auth_required === true
  } catch {
    return false // unreachable: /config/check reports that properly
  }
}

export async function loadConfig() {
  if (await tokenMissing()) {
    state.needToken = true
    state.tokenRejected = false
    return
  }
  try {
    state.config = await api.configCheck()
    state.configError = ''
    if (state.config?.auth_required && !getToken()) state.needToken = true
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      state.needToken = true
      state.tokenRejected = Boolean(getToken())
      return
    }
    state.configError = error.message
  }
}

export async function loadAgents() {
  try {
    const agents = await api.agents()
    state.agents = Array.isArray(agents) ? agents : []
  } catch (error) {
    handleApiError(error, 'Could not load agents')
  }
}

export async function refreshSessions() {
  try {
    const page = await api.sessions({ limit: sessionsLimit() })
    state.sessions = sessionsOf(page)
    sessionPages.nextCursor = page?.next_cursor || null
    state.sessionsLoaded = true
  } catch (error) {
    handleApiError(error, 'Could not load sessions')
  }
}

let openToken = 0
export async function openSession(sessionId, { push = true, quiet = false } = {}) {
  const ticket = ++openToken
  const switching = sessionId !== state.sessionId
  if (switching) {
    state.sessionId = sessionId
    state.conversation = createConversation()
    if (push) writeUrl(sessionId)
  }
  state.sessionMissing = false
  if (!quiet) state.loadingSession = true
  if (switching) socket?.emit('join', { session_id: sessionId })
  const since = eventMark()
  try {
    const session = await api.session(sessionId, { limit: PAGE })
    if (ticket !== openToken) return // the user moved on meanwhile
    loadConversation(state.conversation, withVersions(session), { since })
    setHistory(session)
    applySessionSettings(session)
  } catch (error) {
    if (ticket !== openToken) return
    if (error instanceof ApiError && error.status === 404) state.sessionMissing = true
    else handleApiError(error, 'Could not load this chat')
  } finally {
    if (ticket === openToken) state.loadingSession = false
  }
}

export function newChat({ push = true } = {}) {
  openToken++
  state.sessionId = null
  state.sessionMissing = false
  state.loadingSession = false
  state.conversation = createConversation()
  setHistory(null)
  applySessionSettings({ model: lastPickedModel() })
  if (push) writeUrl(null)
}

export async function deleteSession(sessionId) {
  try {
    await api.deleteSession(sessionId)
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      handleApiError(error, 'Could not delete this chat')
      return false
    }
  }
  state.sessions = state.sessions.filter((s) => s.session_id !== sessionId)
  if (state.sessionId === sessionId) newChat()
  refreshSessions()
  return true
}

/**
 * Send the composer's text; `agents` restricts the turn to those agents (from @mentions); `images`
 * are data: URLs sent as image parts. `branch` (edit/regenerate): `{parentMsgId, newVersionOf}` puts the
 * message after that answer (null: the start) as a new version beside `newVersionOf` (the old versions' ids).
 */
export function sendMessage(text, agents = [], images = [], branch = null) {
  const content = text.trim()
  if ((!content && !images.length) || !socket || state.waitSeconds > 0) return false
  // Writing into a chat that was deleted meanwhile starts a new one rather than reviving its id.
  if (state.sessionMissing) {
    state.sessionId = null
    state.sessionMissing = false
  }
  const clientMsgId = newClientMsgId()
  // The message follows the answer on screen, even if another tab has shown another branch since.
  const shown = state.conversation.messages.at(-1)
  const follows = branch || (shown?.msg_type === 'output' && shown.msg_id ? { parentMsgId: shown.msg_id } : null)
  addLocalInput(state.conversation, { clientMsgId, text: content, agents, sessionId: state.sessionId, images })
  const payload = { msg_id: clientMsgId, content: chatContent(content, images) }
  if (state.sessionId) payload.session_id = state.sessionId
  else {
    // A new chat starts on the model (and effort) picked before its first message.
    if (state.chatModel) payload.model = state.chatModel
    if (state.reasoningEffort) payload.reasoning_effort = state.reasoningEffort
  }
  if (agents.length) payload.agents = agents
  if (follows && state.sessionId) {
    payload.parent_msg_id = follows.parentMsgId ?? null
    const local = state.conversation.messages.at(-1)
    local.branch = branch // "Send again" after a refusal sends it to the same place
    if (branch) local.newVersionOf = branch.newVersionOf
  }
  socket.emit('chat', payload)
  return true
}

/** Send a refused message (busy session, lost socket...) again, in place of the failed one. */
export function retryMessage(message) {
  const index = state.conversation.messages.indexOf(message)
  if (index < 0 || !message.error) return false
  const text = inputText(message)
  state.conversation.messages.splice(index, 1)
  return sendMessage(text, message.agents || [], imageUrlsOf(message), message.branch || null)
}

/** Ask again what led to a failed answer: the question it answered goes as a new turn. */
export function retryAnswer(output) {
  const messages = state.conversation.messages
  const index = messages.indexOf(output)
  const question = messages
    .slice(0, Math.max(index, 0))
    .reverse()
    .find((m) => m.msg_type === 'input' && !m.error)
  if (index < 0 || !question) return false
  return sendMessage(inputText(question), question.agents || [], imageUrlsOf(question))
}

// ---- Branches (issue 13): edit a question, regenerate an answer, switch versions with `< 2/3 >`.
// Each makes or shows a sibling; the versions not shown stay on the server.

/** Send `text` as a new version of the question `message` (what follows it leaves the screen). */
export function editMessage(message, text) {
  const messages = state.conversation.messages
  const index = messages.indexOf(message)
  if (index < 0 || !message.msg_id || !text.trim() || turnRunning.value) return false
  const branch = { parentMsgId: message.parent_msg_id ?? null, newVersionOf: siblingsWithNew(message) }
  const removed = messages.splice(index)
  if (sendMessage(text, message.agents || [], imageUrlsOf(message), branch)) return true
  messages.push(...removed) // not sent (no connection, storage full): nothing changes
  return false
}

/** Ask the question that `output` answered again, as a new version beside it. */
export function regenerateAnswer(output) {
  const question = questionOf(state.conversation.messages, output)
  return question ? editMessage(question, inputText(question)) : false
}

/** Show the version `step` places away from `message` (-1 previous, +1 next); stored on the server. */
export async function switchBranch(message, step) {
  const target = siblingAt(message, step)
  if (!target || !state.sessionId || turnRunning.value) return
  try {
    await api.switchBranch(state.sessionId, target)
  } catch (error) {
    handleApiError(error, 'Could not show that version')
    return
  }
  await openSession(state.sessionId, { push: false, quiet: true })
}

// ---- Many chats (issue 13): the sidebar lists a page of chats, "Show older chats" adds the next.
const SESSION_PAGE = 50
export const sessionPages = reactive({ nextCursor: null, loading: false })

/** A refresh keeps as many chats listed as are shown (up to the server's page limit). */
function sessionsLimit() {
  return Math.min(500, Math.max(SESSION_PAGE, state.sessions.length))
}

function sessionsOf(page) {
  const list = Array.isArray(page) ? page : page?.sessions // a list: an older server, unpaged
  return Array.isArray(list) ? list : []
}

export async function loadMoreSessions() {
  if (!sessionPages.nextCursor || sessionPages.loading) return
  sessionPages.loading = true
  try {
    const page = await api.sessions({ limit: SESSION_PAGE, cursor: sessionPages.nextCursor })
    const listed = new Set(state.sessions.map((s) => s.session_id))
    state.sessions.push(...sessionsOf(page).filter((s) => !listed.has(s.session_id)))
    sessionPages.nextCursor = page?.next_cursor || null
  } catch (error) {
    handleApiError(error, 'Could not load older chats')
  } finally {
    sessionPages.loading = false
  }
}

// ---- Long chats (issue 13): the last page first, older pages as the reader scrolls up.
export const history = reactive({ hasMore: false, nextBefore: null, loadingOlder: false })

function setHistory(page) {
  history.hasMore = Boolean(page?.has_more)
  history.nextBefore = page?.next_before || null
}

/** Load the page before the oldest message shown; returns how many messages were added. */
export async function loadOlder() {
  if (!history.hasMore || history.loadingOlder || !state.sessionId) return 0
  const sessionId = state.sessionId
  const ticket = openToken
  history.loadingOlder = true
  try {
    const page = await api.session(sessionId, { limit: PAGE, before: history.nextBefore })
    if (ticket !== openToken || sessionId !== state.sessionId) return 0
    setHistory(page)
    return prependMessages(state.conversation, withVersions(page))
  } catch (error) {
    // The branch shown changed elsewhere (another tab): start again from its end.
    if (error instanceof ApiError && error.code === 'invalid_cursor') openSession(sessionId, { push: false, quiet: true })
    else handleApiError(error, 'Could not load older messages')
    return 0
  } finally {
    history.loadingOlder = false
  }
}

export function stopTurn() {
  if (socket && state.sessionId) socket.emit('stop', { session_id: state.sessionId })
}

export async function submitToken(token) {
  setToken(token.trim())
  state.needToken = false
  state.tokenRejected = false
  await loadConfig()
  if (state.needToken) return
  await Promise.all([loadAgents(), refreshSessions()])
  if (socket) {
    socket.disconnect()
    socket.connect()
  } else {
    connectSocket()
  }
  if (state.sessionId) openSession(state.sessionId, { push: false })
}

export async function start() {
  window.addEventListener('popstate', () => {
    const id = sessionFromUrl()
    if (id) openSession(id, { push: false })
    else newChat({ push: false })
  })
  await loadConfig()
  const fromUrl = sessionFromUrl()
  if (fromUrl) state.sessionId = fromUrl
  if (state.needToken) return
  connectSocket()
  await Promise.all([
    loadAgents(),
    refreshSessions(),
    fromUrl ? openSession(fromUrl, { push: false }) : Promise.resolve(),
  ])
}

// ---- Search (issue 13): find chats by the words in their messages; a result opens its chat at the
// message that matched (ChatView reveals `search.focusMsgId` once the chat is loaded).
export const search = reactive({ query: '', results: [], busy: false, error: '', focusMsgId: null })
let searchTicket = 0

export async function searchChats(query) {
  search.query = query
  const ticket = ++searchTicket
  if (!query.trim()) {
    Object.assign(search, { results: [], busy: false, error: '' })
    return
  }
  search.busy = true
  try {
    const results = await api.searchSessions(query)
    if (ticket === searchTicket) Object.assign(search, { results: Array.isArray(results) ? results : [], error: '' })
  } catch (error) {
    if (ticket === searchTicket) Object.assign(search, { results: [], error: error?.message || 'Search failed.' })
  } finally {
    if (ticket === searchTicket) search.busy = false
  }
}

export function openSearchResult(result) {
  search.focusMsgId = result.msg_id
  openSession(result.session_id)
}

// ---- Rename and pin (issue 13)
/** Rename and/or pin a chat (`{title?, pinned?}`); the sidebar reloads to show it. False on failure. */
export async function updateChat(sessionId, changes) {
  try {
    await api.updateSession(sessionId, changes)
  } catch (error) {
    handleApiError(error, 'Could not change this chat')
    return false
  }
  await refreshSessions()
  return true
}

// ---- Per-chat model (issue 11): the model chip, the picker's catalog, the chat's settings.
state.chatModel = lastPickedModel() // this chat's model; null: the server's default
state.reasoningEffort = null // null: the server's default (LITELLM_REASONING_EFFORT)
state.models = null // GET /model, loaded when the picker first opens
state.modelsError = ''

/** The model the chip shows: the chat's own, else the server's default. */
export const chipModel = computed(() => state.chatModel || state.config?.chat_model || '')

export function applySessionSettings(session) {
  state.chatModel = session?.model ?? null
  state.reasoningEffort = session?.reasoning_effort ?? null
}

export async function loadModels() {
  if (state.models) return
  try {
    const models = await api.models()
    state.models = Array.isArray(models) ? models : []
    state.modelsError = ''
  } catch (error) {
    state.modelsError = error.message
  }
}

async function saveSettings(changes) {
  if (!state.sessionId) {
    // Not stored yet: it goes with the chat's first message.
    if ('model' in changes) state.chatModel = changes.model
    if ('reasoning_effort' in changes) state.reasoningEffort = changes.reasoning_effort
    return true
  }
  try {
    applySessionSettings(await api.patchSession(state.sessionId, changes))
    return true
  } catch (error) {
    handleApiError(error, 'Could not change the model')
    return false
  }
}

/** Use `model` in this chat from its next turn on (and start new chats on it, in this browser). */
export async function pickModel(model) {
  const saved = await saveSettings({ model })
  if (saved) rememberPickedModel(model)
  return saved
}

/** This chat's reasoning effort (off|minimal|low|medium|high; null: the default). */
export function pickReasoningEffort(effort) {
  return saveSettings({ reasoning_effort: effort || null })
}

// ---- Usage and budgets (issue 12) ----------------------------------------------------------------
// The chat header's totals come from the session list (GET /session carries each chat's `totals`,
// summed by the server's database), which is refreshed after every finished answer. The budget
// limits and today's spend come from GET /usage/budget, refreshed whenever that list is.
export const usage = reactive({
  open: new URLSearchParams(window.location.search).get('view') === 'usage',
  budget: null, // {session_budget_usd, daily_budget_usd, today_spent_usd, allow_unpriced_models}
})

export const currentTotals = computed(
  () => state.sessions.find((s) => s.session_id === state.sessionId)?.totals || null,
)

export async function refreshBudget() {
  try {
    usage.budget = await api.budget()
  } catch {
    usage.budget = null // an older server, or a token still missing: no bar, nothing else changes
  }
}

function writeView(open) {
  const url = new URL(window.location.href)
  if (open) url.searchParams.set('view', 'usage')
  else url.searchParams.delete('view')
  if (url.href !== window.location.href) window.history.pushState({ usage: open }, '', url)
}

export function openUsage() {
  usage.open = true
  writeView(true)
}

export function closeUsage() {
  if (!usage.open) return
  usage.open = false
  writeView(false)
}

watch(
  () => state.sessions,
  () => refreshBudget(),
)
// Opening a chat (or a new one) leaves the Usage page.
watch(
  () => state.sessionId,
  () => closeUsage(),
)
window.addEventListener('popstate', () => {
  usage.open = new URLSearchParams(window.location.search).get('view') === 'usage'
})
