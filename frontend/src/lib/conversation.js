// The conversation on screen, driven by the server's `chat` / `chat_delta` events and by REST loads.
// Functions mutate the given state (a Vue reactive object in the app, a plain object in tests).

import { addDelta, adoptSnapshot } from './streamText.js'

export const ASSISTANT = 'assistant'

export function createConversation() {
  return { messages: [] }
}

// Counts socket events applied, so a REST load can tell what arrived after it was asked for.
let seenCounter = 0
/** A mark to pass to `loadConversation` as `since`: everything applied after it is newer than the load. */
export function eventMark() {
  return seenCounter
}

let localCounter = 0
/** A client-side message id; the server keeps it as `client_msg_id` and echoes it on the answer. */
export function newClientMsgId() {
  localCounter += 1
  const random = Math.random().toString(36).slice(2, 10)
  return `c-${Date.now().toString(36)}-${localCounter}-${random}`
}

function normalise(message) {
  return {
    session_id: message.session_id ?? null,
    conv_id: message.conv_id ?? null,
    msg_id: message.msg_id ?? null,
    client_msg_id: message.client_msg_id ?? null,
    msg_type: message.msg_type === 'input' ? 'input' : 'output',
    status: message.status ?? 'success',
    actions: Array.isArray(message.actions) ? message.actions : [],
    agents: Array.isArray(message.agents) ? message.agents : [],
    // Older servers sent stopped turns as `success` with `stopped: true`: the same thing.
    stopped: Boolean(message.stopped) || message.status === 'stopped',
    stop_reason: message.stop_reason ?? null,
    // What the turn's model calls used (absent from older servers and from input messages).
    usage: message.usage && typeof message.usage === 'object' ? message.usage : null,
    // Each model call of the turn: {agent, model, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms, outcome}.
    calls: Array.isArray(message.calls) ? message.calls : [],
    content: Array.isArray(message.content) ? message.content : [],
    // Attached images of an input message (image_url parts with data: URLs).
    images: Array.isArray(message.images) ? message.images : [],
    created_at: message.created_at ?? null,
    // Branches: the message this one follows, and its siblings (itself included) for `< 2/3 >`.
    parent_msg_id: message.parent_msg_id ?? null,
    siblings: Array.isArray(message.siblings) ? message.siblings : null,
    sibling_index: Number.isInteger(message.sibling_index) ? message.sibling_index : null,
    // Text received through `chat_delta` that the last whole message may not contain yet, its length
    // in code points (what delta offsets count) and deltas waiting for a hole to close (streamText.js).
    stream: '',
    streamChars: 0,
    pending: [],
    local: false,
    // Seen live on the socket (not loaded from storage): an input like that is awaiting its answer.
    live: false,
    error: null,
  }
}

/** Show the user's message straight away, before the server echoes it. */
export function addLocalInput(conv, { clientMsgId, text, agents = [], sessionId = null, images = [] }) {
  conv.messages.push({
    ...normalise({
      session_id: sessionId,
      msg_type: 'input',
      client_msg_id: clientMsgId,
      content: [{ type: 'text', text }],
      images: images.map((url) => ({ type: 'image_url', image_url: { url } })),
      agents,
      created_at: Date.now() / 1000,
    }),
    local: true,
    status: 'progress',
  })
}

function findIndex(conv, predicate) {
  for (let i = conv.messages.length - 1; i >= 0; i--) if (predicate(conv.messages[i])) return i
  return -1
}

/** Apply a whole message from a `chat` event (input echo or output update). */
export function applyChat(conv, raw) {
  if (!raw || typeof raw !== 'object') return conv
  const incoming = { ...normalise(raw), live: true, seen: ++seenCounter }
  let index = incoming.msg_id ? findIndex(conv, (m) => m.msg_id === incoming.msg_id) : -1
  if (index < 0 && incoming.msg_type === 'input' && incoming.client_msg_id) {
    index = findIndex(conv, (m) => m.local && m.client_msg_id === incoming.client_msg_id)
  }
  if (index < 0) {
    if (incoming.status === 'progress') adoptSnapshot(incoming, answerBlock(incoming)?.text)
    conv.messages.push(incoming)
    return conv
  }
  const current = conv.messages[index]
  // A final message carries the whole answer; streamed text is only a preview until then.
  // Live events carry no siblings: keep what is known (a new version: the old ones plus itself).
  const known = current.siblings || (current.newVersionOf && incoming.msg_id ? [...current.newVersionOf, incoming.msg_id] : null)
  if (!incoming.siblings && known) {
    incoming.siblings = known
    incoming.sibling_index = known.indexOf(incoming.msg_id)
  }
  if (incoming.status !== 'progress') {
    conv.messages.splice(index, 1, incoming)
    return conv
  }
  const next = { ...incoming, stream: current.stream, streamChars: current.streamChars, pending: current.pending }
  adoptSnapshot(next, answerBlock(next)?.text)
  conv.messages.splice(index, 1, next)
  return conv
}

/** Append streamed answer text; creates the answer bubble if the delta beats the first `chat`. */
export function applyDelta(conv, event) {
  if (!event || !event.msg_id || typeof event.delta !== 'string') return conv
  let index = findIndex(conv, (m) => m.msg_id === event.msg_id)
  if (index < 0) {
    conv.messages.push(
      normalise({
        session_id: event.session_id,
        conv_id: event.conv_id,
        msg_id: event.msg_id,
        msg_type: 'output',
        status: 'progress',
      }),
    )
    index = conv.messages.length - 1
  }
  const message = conv.messages[index]
  if (message.status !== 'progress') return conv
  message.seen = ++seenCounter
  // Start from what the last whole message already had, so nothing shown is lost.
  if (!message.stream) adoptSnapshot(message, answerBlock(message)?.text)
  addDelta(message, event.delta, event.offset)
  return conv
}

/**
 * Replace everything with the server's stored conversation, keeping local messages it lacks. `since`
 * (an `eventMark()` taken when the load was asked for) also keeps what the socket delivered after
 * that: a reload that left before a turn's echo must not wipe that turn off the screen.
 */
export function loadConversation(conv, messages, { since = Infinity } = {}) {
  const newer = (m) => m.seen > since
  const shown = new Map()
  for (const m of conv.messages) if (m.msg_id && !shown.has(m.msg_id)) shown.set(m.msg_id, m)
  const loaded = (Array.isArray(messages) ? messages : []).map((stored) => {
    const message = normalise(stored)
    const current = message.msg_id ? shown.get(message.msg_id) : undefined
    if (current && newer(current)) {
      // The socket's copy is the fresher one; the stored copy only knows the versions beside it.
      const siblings = message.siblings ?? current.siblings
      return { ...current, siblings, sibling_index: message.sibling_index ?? current.sibling_index }
    }
    // A turn still running keeps its streamed preview across a reload of the stored copy.
    if (current && message.status === 'progress') {
      Object.assign(message, { stream: current.stream, streamChars: current.streamChars, pending: current.pending })
    }
    if (message.status === 'progress') adoptSnapshot(message, answerBlock(message)?.text)
    return message
  })
  const known = new Set(loaded.map((m) => m.client_msg_id).filter(Boolean))
  const loadedIds = new Set(loaded.map((m) => m.msg_id).filter(Boolean))
  const pending = conv.messages.filter(
    (m) => (m.local && !known.has(m.client_msg_id)) || (newer(m) && !loadedIds.has(m.msg_id)),
  )
  conv.messages.splice(0, conv.messages.length, ...loaded, ...pending)
  return conv
}

/** The server refused the message we just sent (busy session, bad payload...): say so on it. */
export function markLastInputFailed(conv, errorMessage) {
  const last = conv.messages[conv.messages.length - 1]
  if (last && last.msg_type === 'input' && (last.local || last.live) && !last.error) {
    last.error = errorMessage
    last.status = 'error'
    return true
  }
  return false
}

export function answerBlock(message) {
  return message.content.find((b) => b && b.agent_name === ASSISTANT) || null
}

/**
 * What to show as the answer: the streamed preview while it is ahead, else the stored block.
 * A turn that failed after part of the answer arrived stores "partial\n\nerror" in the block (and
 * the error alone in status_message): the two are split so the partial answer reads as an answer
 * and only the error is shown as one (`error`).
 */
export function answerView(message) {
  const block = answerBlock(message)
  const stored = block?.text || ''
  const streaming = message.status === 'progress'
  const streamAhead = message.stream && (streaming || !stored) && message.stream.length >= stored.length
  let text = streamAhead ? message.stream : stored
  const statusMessage = block?.status_message || ''
  const failed = message.status === 'error' || block?.status === 'error'
  let error = ''
  if (failed) {
    error = statusMessage || text || 'The turn failed.'
    if (statusMessage && text.endsWith(statusMessage)) text = text.slice(0, -statusMessage.length).trimEnd()
    else if (!statusMessage) text = ''
  }
  return {
    text,
    error,
    status: block?.status ?? message.status,
    statusMessage,
    streaming: streaming && Boolean(text),
  }
}

/** The agent steps of a turn: every block that is not the final answer. */
export function stepsOf(message) {
  return message.content.filter((b) => b && b.agent_name && b.agent_name !== ASSISTANT)
}

export function inputText(message) {
  return message.content
    .map((b) => (typeof b === 'string' ? b : b?.text || ''))
    .filter(Boolean)
    .join('\n')
}

/** A turn is running while an answer is in progress or our message awaits its answer. */
export function isTurnRunning(conv) {
  const last = conv.messages[conv.messages.length - 1]
  if (!last) return false
  if (last.msg_type === 'output') return last.status === 'progress'
  return (last.local || last.live) && !last.error
}

/** Older messages of the conversation (a page loaded as the reader scrolls up), put in front. */
export function prependMessages(conv, messages) {
  const known = new Set(conv.messages.map((m) => m.msg_id).filter(Boolean))
  const older = (Array.isArray(messages) ? messages : []).map(normalise).filter((m) => !known.has(m.msg_id))
  conv.messages.splice(0, 0, ...older)
  return older.length
}
