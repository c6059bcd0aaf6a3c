import { describe, expect, it } from 'vitest'
import { answerView, applyChat, applyDelta, createConversation, loadConversation } from '../conversation.js'
import { codePoints, unseenPart } from '../streamText.js'

const output = (text, status = 'progress') => ({
  session_id: 's1',
  conv_id: 'c1',
  msg_id: 'out1',
  msg_type: 'output',
  status,
  content: [{ type: 'text', agent_name: 'assistant', status, text }],
})
const delta = (text, offset) => ({ session_id: 's1', msg_id: 'out1', delta: text, offset })
const shown = (conv) => answerView(conv.messages[0]).text

// The full answer the server streams, cut into deltas with their offsets (code points, like Python).
const FULL = 'Héllo 🙂 wörld, 日本語 and more text.'
function deltasOf(text, size = 3) {
  const chars = Array.from(text)
  const out = []
  for (let i = 0; i < chars.length; i += size) out.push(delta(chars.slice(i, i + size).join(''), i))
  return out
}
const prefix = (n) => Array.from(FULL).slice(0, n).join('')

describe('stream text with offsets', () => {
  it('counts code points as the server does', () => {
    expect(codePoints('a🙂b')).toBe(3)
    expect(unseenPart('🙂xy', 0, 2)).toBe('y')
    expect(unseenPart('abc', 5, 2)).toBeNull()
    expect(unseenPart('abc', 0, 9)).toBe('')
  })

  it('a reload: the stored snapshot, then deltas that overlap it, show every character once', () => {
    const conv = createConversation()
    loadConversation(conv, [output(prefix(10))])
    for (const d of deltasOf(FULL)) applyDelta(conv, d) // the ones before 10 repeat what is shown
    expect(shown(conv)).toBe(FULL)
  })

  it('deltas after a hole wait for the next snapshot, then continue without a gap', () => {
    const conv = createConversation()
    loadConversation(conv, [output(prefix(4))])
    const all = deltasOf(FULL)
    // Joined late: the deltas covering 4..12 were missed; later ones arrive.
    for (const d of all.filter((d) => d.offset >= 12)) applyDelta(conv, d)
    expect(shown(conv)).toBe(prefix(4)) // nothing shown past the hole
    applyChat(conv, output(prefix(13))) // the periodic save's whole message closes the hole
    expect(shown(conv)).toBe(FULL)
  })

  it('a snapshot older than what was streamed changes nothing, in any order', () => {
    const conv = createConversation()
    applyChat(conv, output(''))
    const all = deltasOf(FULL)
    all.slice(0, 6).forEach((d) => applyDelta(conv, d))
    applyChat(conv, output(prefix(5)))
    loadConversation(conv, [output(prefix(2))])
    all.slice(4).forEach((d) => applyDelta(conv, d)) // repeats of 4 and 5, then new ones
    expect(shown(conv)).toBe(FULL)
  })

  it('a join snapshot for an answer not on screen yet starts the stream from its text', () => {
    const conv = createConversation()
    applyChat(conv, output(prefix(7)))
    deltasOf(FULL)
      .filter((d) => d.offset >= 6)
      .forEach((d) => applyDelta(conv, d))
    expect(shown(conv)).toBe(FULL)
  })

  it('deltas without offsets (an older server) are appended as before', () => {
    const conv = createConversation()
    applyChat(conv, output(''))
    applyDelta(conv, { msg_id: 'out1', delta: 'ab' })
    applyDelta(conv, { msg_id: 'out1', delta: 'cd' })
    expect(shown(conv)).toBe('abcd')
  })
})
