// Branches: a message's place among its siblings (the `< 2/3 >` arrows), and where an edit or a
// regenerated answer goes. The server stores the tree and which branch is shown (README, Branches).

/** `{index, count}` of a message among its siblings; count 1 when it has none. */
export function branchPosition(message) {
  const siblings = Array.isArray(message?.siblings) ? message.siblings : []
  if (siblings.length < 2) return { index: 0, count: 1 }
  const index = Math.max(0, Math.min(message.sibling_index ?? siblings.indexOf(message.msg_id), siblings.length - 1))
  return { index, count: siblings.length }
}

/** The sibling `step` places away (-1: the previous version, +1: the next), or null at either end. */
export function siblingAt(message, step) {
  const { index, count } = branchPosition(message)
  const target = index + step
  if (count < 2 || target < 0 || target >= count) return null
  return message.siblings[target]
}

/** The siblings a new version of `message` will have: the old ones, the new one last. */
export function siblingsWithNew(message) {
  const siblings = Array.isArray(message?.siblings) && message.siblings.length ? message.siblings : [message.msg_id]
  return siblings.filter(Boolean)
}

/** Messages of a page with their `< 2/3 >` positions (`versions`, kept beside the stored messages). */
export function withVersions(page) {
  const versions = page?.versions && typeof page.versions === 'object' ? page.versions : {}
  const messages = Array.isArray(page?.conversation) ? page.conversation : []
  return messages.map((m) => (versions[m.msg_id] ? { ...m, ...versions[m.msg_id] } : m))
}

/** The question an answer replied to: its parent, else the nearest earlier question on screen. */
export function questionOf(messages, output) {
  const index = messages.indexOf(output)
  if (index < 0) return null
  const byParent = output.parent_msg_id && messages.find((m) => m.msg_id === output.parent_msg_id)
  if (byParent) return byParent
  for (let i = index - 1; i >= 0; i--) if (messages[i].msg_type === 'input') return messages[i]
  return null
}
