// The store's protocol handling, with the socket and REST replaced by in-memory doubles.
import { beforeEach, describe, expect, it, vi } from 'vitest'

const sent = []
const handlers = {}
const fakeSocket = {
  on: (event, handler) => ((handlers[event] ||= []).push(handler), fakeSocket),
  emit: (event, payload) => sent.push([event, payload]),
  connect: () => handlers.connect?.forEach((handler) => handler()),
  disconnect: () => {},
}
/** The server sending `event` to this client. */
const serverSends = (event, payload) => handlers[event]?.forEach((handler) => handler(payload))

vi.mock('../lib/socket.js', () => ({ createChatSocket: () => fakeSocket }))

const api = vi.hoisted(() => ({
  health: vi.fn(),
  configCheck: vi.fn(),
  agents: vi.fn(async () => []),
  sessions: vi.fn(async () => []),
  session: vi.fn(),
  deleteSession: vi.fn(),
}))
vi.mock('../lib/api.js', async (importOriginal) => ({ ...(await importOriginal()), api }))

const { connectSocket, editMessage, loadConfig, loadMoreSessions, refreshSessions, retryMessage, sendMessage, state, turnRunning } =
  await import('../store.js')

beforeEach(() => {
  sent.length = 0
  localStorage.clear()
  vi.clearAllMocks()
  state.needToken = false
  state.config = null
  state.sessionId = 's1'
  state.conversation = { messages: [] }
})

describe('store', () => {
  it('asks for the token from /health alone, without probing a protected route', async () => {
    api.health.mockResolvedValue({ status: 'ok', auth_required: true })
    await loadConfig()
    expect(state.needToken).toBe(true)
    expect(api.configCheck).not.toHaveBeenCalled()
  })

  it('loads the config when no token is needed, or one is already kept', async () => {
    api.health.mockResolvedValue({ status: 'ok', auth_required: false })
    api.configCheck.mockResolvedValue({ llm_configured: true, chat_model: 'openai/x' })
    await loadConfig()
    expect(state.needToken).toBe(false)
    expect(state.config.chat_model).toBe('openai/x')

    localStorage.setItem('director.authToken', 'kept')
    api.health.mockClear()
    await loadConfig()
    expect(api.health).not.toHaveBeenCalled() // a kept token goes straight to the real call
  })

  it('shows session_busy on the refused message, keeps its text and can send it again', () => {
    connectSocket()
    expect(sendMessage('  price of @pricing  ', ['pricing'])).toBe(true)
    const payload = { session_id: 's1', content: 'price of @pricing', agents: ['pricing'] }
    expect(sent.at(-1)).toEqual(['chat', expect.objectContaining(payload)])
    expect(turnRunning.value).toBe(true)

    const busy = { code: 'session_busy', message: 'This session is still answering.', session_id: 's1' }
    serverSends('error', busy)
    const [failed] = state.conversation.messages
    expect(failed.error).toBe('This session is still answering.')
    expect(turnRunning.value).toBe(false) // the composer is usable again

    expect(retryMessage(failed)).toBe(true)
    expect(sent.at(-1)).toEqual(['chat', expect.objectContaining({ content: payload.content, agents: ['pricing'] })])
    expect(state.conversation.messages).toHaveLength(1)
    expect(state.conversation.messages[0].error).toBeNull()
    expect(turnRunning.value).toBe(true)
  })

  it('starts a new session when writing into a chat the server no longer has', () => {
    connectSocket()
    state.sessionMissing = true
    sendMessage('hello')
    expect(sent.at(-1)[1]).not.toHaveProperty('session_id')
    expect(state.sessionId).toBeNull()
  })

  it('sends a message after the answer on screen, and an edit beside the question it replaces', () => {
    connectSocket()
    const question = { msg_id: 'q1', msg_type: 'input', parent_msg_id: null, content: [{ text: 'hi' }], agents: [] }
    const answer = { msg_id: 'a1', msg_type: 'output', parent_msg_id: 'q1', status: 'success', content: [] }
    state.conversation.messages.push({ ...question, stream: '' }, { ...answer, stream: '' })
    sendMessage('next')
    expect(sent.at(-1)[1]).toMatchObject({ content: 'next', parent_msg_id: 'a1' })

    state.conversation.messages.splice(2)
    expect(editMessage(state.conversation.messages[0], 'hi again')).toBe(true)
    expect(sent.at(-1)[1]).toMatchObject({ content: 'hi again', parent_msg_id: null })
    expect(state.conversation.messages).toHaveLength(1) // the old question and its answer left the screen
    expect(state.conversation.messages[0].newVersionOf).toEqual(['q1'])
  })

  it('lists a page of chats and adds the next one on request, without repeats', async () => {
    const chat = (id) => ({ session_id: id, title: id, created_at: 1, updated_at: 1 })
    api.sessions.mockResolvedValueOnce({ sessions: [chat('a'), chat('b')], next_cursor: 'c1' })
    await refreshSessions()
    expect(api.sessions).toHaveBeenLastCalledWith({ limit: 50 })
    api.sessions.mockResolvedValueOnce({ sessions: [chat('b'), chat('c')], next_cursor: null })
    await loadMoreSessions()
    expect(api.sessions).toHaveBeenLastCalledWith({ limit: 50, cursor: 'c1' })
    expect(state.sessions.map((s) => s.session_id)).toEqual(['a', 'b', 'c'])
    await loadMoreSessions() // no cursor left: nothing to ask
    expect(api.sessions).toHaveBeenCalledTimes(2)
  })
})
