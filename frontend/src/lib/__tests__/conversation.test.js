import { describe, expect, it } from 'vitest'
import {
  addLocalInput,
  answerView,
  applyChat,
  applyDelta,
  createConversation,
  eventMark,
  inputText,
  isTurnRunning,
  loadConversation,
  markLastInputFailed,
  stepsOf,
} from '../conversation.js'

const SID = 's1'

function output(overrides = {}) {
  return {
    session_id: SID,
    conv_id: 'c1',
    msg_id: 'out1',
    client_msg_id: 'local1',
    msg_type: 'output',
    status: 'progress',
    actions: [],
    agents: [],
    stopped: false,
    content: [],
    ...overrides,
  }
}

function input(overrides = {}) {
  return {
    session_id: SID,
    conv_id: 'c1',
    msg_id: 'in1',
    client_msg_id: 'local1',
    msg_type: 'input',
    content: [{ type: 'text', text: 'hello' }],
    agents: [],
    ...overrides,
  }
}

const answer = (text, status = 'progress') => ({ type: 'text', agent_name: 'assistant', status, text })

describe('conversation reducer', () => {
  it('replaces the optimistic input with the server echo, in place', () => {
    const conv = createConversation()
    addLocalInput(conv, { clientMsgId: 'local1', text: 'hello' })
    expect(isTurnRunning(conv)).toBe(true)
    applyChat(conv, input())
    expect(conv.messages).toHaveLength(1)
    expect(conv.messages[0].msg_id).toBe('in1')
    expect(conv.messages[0].local).toBe(false)
    expect(inputText(conv.messages[0])).toBe('hello')
    expect(isTurnRunning(conv)).toBe(true)
  })

  it('builds the answer from deltas, then takes the final message', () => {
    const conv = createConversation()
    addLocalInput(conv, { clientMsgId: 'local1', text: 'hello' })
    applyChat(conv, input())
    applyChat(conv, output())
    applyChat(conv, output({ content: [answer('')] }))
    applyDelta(conv, { session_id: SID, msg_id: 'out1', delta: 'Hel' })
    applyDelta(conv, { session_id: SID, msg_id: 'out1', delta: 'lo!' })
    const out = conv.messages[1]
    expect(answerView(out)).toMatchObject({ text: 'Hello!', streaming: true })
    expect(isTurnRunning(conv)).toBe(true)

    applyChat(conv, output({ status: 'success', content: [answer('Hello! Done.', 'success')] }))
    expect(conv.messages).toHaveLength(2)
    expect(conv.messages[1].stream).toBe('')
    expect(answerView(conv.messages[1])).toMatchObject({ text: 'Hello! Done.', streaming: false })
    expect(isTurnRunning(conv)).toBe(false)
  })

  it('keeps streamed text when a whole progress message lags behind the deltas', () => {
    const conv = createConversation()
    applyChat(conv, output({ content: [answer('')] }))
    applyDelta(conv, { msg_id: 'out1', delta: 'abc' })
    // e.g. an agent's status changed: the whole message is re-sent with slightly older text
    applyChat(conv, output({ content: [answer('ab')] }))
    expect(answerView(conv.messages[0]).text).toBe('abc')
    applyDelta(conv, { msg_id: 'out1', delta: 'd' })
    expect(answerView(conv.messages[0]).text).toBe('abcd')
  })

  it('creates the answer when a delta arrives before any whole message', () => {
    const conv = createConversation()
    applyDelta(conv, { session_id: SID, msg_id: 'out9', delta: 'Hi' })
    expect(conv.messages).toHaveLength(1)
    expect(conv.messages[0].msg_type).toBe('output')
    expect(answerView(conv.messages[0]).text).toBe('Hi')
  })

  it('ignores deltas for a finished answer and malformed events', () => {
    const conv = createConversation()
    applyChat(conv, output({ status: 'success', content: [answer('final', 'success')] }))
    applyDelta(conv, { msg_id: 'out1', delta: ' late' })
    applyDelta(conv, { msg_id: 'out1' })
    applyChat(conv, null)
    expect(conv.messages).toHaveLength(1)
    expect(answerView(conv.messages[0]).text).toBe('final')
  })

  it('separates agent steps from the answer and tracks their state', () => {
    const conv = createConversation()
    const step = { type: 'text', agent_name: 'pricing', status: 'progress', status_message: 'Running…', text: '' }
    applyChat(conv, output({ content: [step], actions: ['Asked the model', 'Running pricing'] }))
    expect(stepsOf(conv.messages[0])).toHaveLength(1)
    expect(stepsOf(conv.messages[0])[0].status).toBe('progress')
    const done = { ...step, status: 'success', status_message: 'Done', text: '2 models', data: { rows: 2 } }
    applyChat(conv, output({ content: [done, answer('Here.')] }))
    const steps = stepsOf(conv.messages[0])
    expect(steps).toEqual([done])
    expect(answerView(conv.messages[0]).text).toBe('Here.')
  })

  it('shows a provider error with its advice', () => {
    const conv = createConversation()
    const block = {
      ...answer('The provider rejected the API key: check LITELLM_API_KEY.', 'error'),
      status_message: 'The provider rejected the API key: check LITELLM_API_KEY.',
    }
    applyChat(conv, output({ status: 'error', content: [block] }))
    const view = answerView(conv.messages[0])
    expect(view.status).toBe('error')
    // The advice is the error itself, not an answer.
    expect(view.error).toContain('LITELLM_API_KEY')
    expect(view.text).toBe('')
    expect(isTurnRunning(conv)).toBe(false)
  })

  it('ends a stopped turn and carries the stop mark', () => {
    const conv = createConversation()
    applyChat(conv, output())
    applyDelta(conv, { msg_id: 'out1', delta: 'partial' })
    applyChat(conv, output({ status: 'success', stopped: true, content: [] }))
    expect(conv.messages[0].stopped).toBe(true)
    expect(isTurnRunning(conv)).toBe(false)
  })

  it('shows a stopped turn as stopped, with what was written, not as a failure', () => {
    const conv = createConversation()
    applyChat(conv, output())
    applyDelta(conv, { msg_id: 'out1', delta: 'Half an' })
    const block = {
      type: 'text',
      agent_name: 'assistant',
      status: 'stopped',
      status_message: 'Stopped: the server was shutting down',
      text: 'Half an',
    }
    applyChat(conv, output({ status: 'stopped', stopped: true, stop_reason: 'shutdown', content: [block] }))
    const [message] = conv.messages
    expect(message.stopped).toBe(true)
    expect(message.stop_reason).toBe('shutdown')
    const view = answerView(message)
    expect(view.text).toBe('Half an')
    expect(view.error).toBe('')
    expect(isTurnRunning(conv)).toBe(false)
  })

  it('marks the message the server refused', () => {
    const conv = createConversation()
    addLocalInput(conv, { clientMsgId: 'local2', text: 'again' })
    expect(markLastInputFailed(conv, 'This session is still answering')).toBe(true)
    expect(conv.messages[0].error).toBe('This session is still answering')
    expect(isTurnRunning(conv)).toBe(false)
    expect(markLastInputFailed(conv, 'twice')).toBe(false)
  })

  it('loads stored history, keeping local messages the server does not have yet', () => {
    const conv = createConversation()
    addLocalInput(conv, { clientMsgId: 'local1', text: 'hello' })
    addLocalInput(conv, { clientMsgId: 'local2', text: 'not stored yet' })
    loadConversation(conv, [input(), output({ status: 'success', content: [answer('hi', 'success')] })])
    expect(conv.messages.map((m) => m.msg_id ?? m.client_msg_id)).toEqual(['in1', 'out1', 'local2'])
    expect(isTurnRunning(conv)).toBe(true)
  })

  it('keeps a turn the socket delivered after a reload was asked for (a reconnect racing a send)', () => {
    const conv = createConversation()
    const stored = [input(), output({ status: 'success', content: [answer('hi', 'success')] })]
    loadConversation(conv, stored)
    const since = eventMark()
    addLocalInput(conv, { clientMsgId: 'local2', text: 'second' })
    applyChat(conv, input({ msg_id: 'in2', client_msg_id: 'local2', content: [{ type: 'text', text: 'second' }] }))
    applyChat(conv, output({ msg_id: 'out2', client_msg_id: 'local2', content: [answer('ok', 'success')], status: 'success' }))
    // The reload's answer left before the second turn: it must not wipe that turn off the screen.
    loadConversation(conv, stored, { since })
    expect(conv.messages.map((m) => m.msg_id)).toEqual(['in1', 'out1', 'in2', 'out2'])
    expect(isTurnRunning(conv)).toBe(false)
    // Without a mark (an ordinary load), the stored copy is the whole truth as before.
    loadConversation(conv, stored)
    expect(conv.messages.map((m) => m.msg_id)).toEqual(['in1', 'out1'])
  })

  it('does not let an older stored copy undo a final answer the socket delivered after the mark', () => {
    const conv = createConversation()
    applyChat(conv, input())
    applyChat(conv, output({ content: [answer('par')] }))
    const since = eventMark()
    applyChat(conv, output({ status: 'success', content: [answer('partial, now whole', 'success')] }))
    loadConversation(conv, [input(), output({ content: [answer('par')], siblings: ['out1'], sibling_index: 0 })], { since })
    expect(conv.messages[1].status).toBe('success')
    expect(conv.messages[1].siblings).toEqual(['out1'])
    expect(isTurnRunning(conv)).toBe(false)
  })

  it('does not treat a stored unanswered input as a running turn', () => {
    const conv = createConversation()
    loadConversation(conv, [input()])
    expect(isTurnRunning(conv)).toBe(false)
  })

  it('splits a mid-stream failure into the partial answer and the error', () => {
    const conv = createConversation()
    applyChat(conv, output({ content: [answer('')] }))
    applyDelta(conv, { msg_id: 'out1', delta: 'Half of the ' })
    applyDelta(conv, { msg_id: 'out1', delta: 'answer' })
    const advice = 'The provider failed while answering (HTTP 500): try again later.'
    applyChat(
      conv,
      output({
        status: 'error',
        content: [{ ...answer(`Half of the answer\n\n${advice}`, 'error'), status_message: advice }],
      }),
    )
    expect(answerView(conv.messages[0])).toMatchObject({ text: 'Half of the answer', error: advice })
  })

  it('says something when a failed turn carries no answer block', () => {
    const bare = loadConversation(createConversation(), [output({ status: 'error', content: [] })])
    expect(answerView(bare.messages[0])).toMatchObject({ text: '', error: 'The turn failed.' })
  })

  it('does not report an error for a successful answer', () => {
    const conv = loadConversation(createConversation(), [
      output({ status: 'success', content: [answer('ok', 'success')] }),
    ])
    expect(answerView(conv.messages[0])).toMatchObject({ text: 'ok', error: '' })
  })
})

describe('usage', () => {
  it('is kept from the server message, and null when it sends none', () => {
    const conv = createConversation(SID)
    const usage = { model: 'openai/gpt-4o', llm_calls: 1, input_tokens: 5, output_tokens: 2, cost_usd: null }
    applyChat(conv, output({ status: 'success', usage }))
    expect(conv.messages.at(-1).usage).toEqual(usage)
    applyChat(conv, output({ msg_id: 'out2', client_msg_id: 'local2', status: 'success' }))
    expect(conv.messages.at(-1).usage).toBeNull()
  })
})
