import { describe, expect, it } from 'vitest'
import { branchPosition, questionOf, siblingAt, siblingsWithNew, withVersions } from '../branches.js'
import { addLocalInput, applyChat, createConversation } from '../conversation.js'

describe('branch arrows', () => {
  const second = { msg_id: 'b', siblings: ['a', 'b', 'c'], sibling_index: 1 }

  it('says which version a message is and which ones are next to it', () => {
    expect(branchPosition(second)).toEqual({ index: 1, count: 3 })
    expect(siblingAt(second, -1)).toBe('a')
    expect(siblingAt(second, 1)).toBe('c')
    expect(siblingAt({ ...second, sibling_index: 2, msg_id: 'c' }, 1)).toBeNull()
  })

  it('shows nothing for a message without siblings', () => {
    expect(branchPosition({ msg_id: 'a', siblings: ['a'] })).toEqual({ index: 0, count: 1 })
    expect(branchPosition({ msg_id: 'a' })).toEqual({ index: 0, count: 1 })
    expect(siblingAt({ msg_id: 'a' }, 1)).toBeNull()
  })

  it('a new version lists the old ones first', () => {
    expect(siblingsWithNew(second)).toEqual(['a', 'b', 'c'])
    expect(siblingsWithNew({ msg_id: 'x' })).toEqual(['x'])
  })

  it('finds the question an answer replied to', () => {
    const q = { msg_id: 'q', msg_type: 'input' }
    const other = { msg_id: 'o', msg_type: 'input' }
    const a = { msg_id: 'a', msg_type: 'output', parent_msg_id: 'q' }
    expect(questionOf([q, other, a], a)).toBe(q)
    expect(questionOf([q, { ...a, parent_msg_id: null }], a)).toBeNull()
    const unlinked = { msg_id: 'u', msg_type: 'output' }
    expect(questionOf([q, unlinked], unlinked)).toBe(q)
  })
})

describe('a new version echoed by the server', () => {
  it('takes its place among the old versions', () => {
    const conv = createConversation()
    addLocalInput(conv, { clientMsgId: 'c1', text: 'edited' })
    conv.messages[0].newVersionOf = ['old']
    applyChat(conv, { msg_type: 'input', msg_id: 'new', client_msg_id: 'c1', content: [{ text: 'edited' }] })
    expect(conv.messages[0].siblings).toEqual(['old', 'new'])
    expect(conv.messages[0].sibling_index).toBe(1)
  })
})

describe('a page of the conversation', () => {
  it('gets each message its versions from beside the stored messages', () => {
    const page = {
      conversation: [{ msg_id: 'q' }, { msg_id: 'a' }],
      versions: { q: { siblings: ['q0', 'q'], sibling_index: 1 } },
    }
    const [q, a] = withVersions(page)
    expect(branchPosition(q)).toEqual({ index: 1, count: 2 })
    expect(a).toEqual({ msg_id: 'a' })
    expect(withVersions({})).toEqual([])
  })
})
