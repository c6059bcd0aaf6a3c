// `@agent` mentions in the composer: where the user is typing one, completing it, and which agents a
// finished message names (those restrict the turn, sent as `agents`).

// A mention starts at the beginning or after whitespace/opening punctuation, so e-mail addresses
// like a@b.com never count.
const MENTION_CHARS = /[A-Za-z0-9_-]/

/** The mention being typed at `caret`, as {start, query}, or null when the caret is not in one. */
export function findMentionQuery(text, caret) {
  let i = caret - 1
  while (i >= 0 && MENTION_CHARS.test(text[i])) i--
  if (i < 0 || text[i] !== '@') return null
  const before = i === 0 ? '' : text[i - 1]
  if (before && !/[\s([{"']/.test(before)) return null
  return { start: i, query: text.slice(i + 1, caret) }
}

/** Agents whose name matches the query: prefix matches first, then substring matches. */
export function filterAgents(agents, query) {
  const q = (query || '').toLowerCase()
  const prefix = []
  const inside = []
  for (const agent of agents) {
    const name = agent.name.toLowerCase()
    if (name.startsWith(q)) prefix.push(agent)
    else if (q && name.includes(q)) inside.push(agent)
  }
  return [...prefix, ...inside]
}

/** Replace the mention at {start, query} (ending at `caret`) with `@name `; returns {text, caret}. */
export function applyMention(text, mention, caret, name) {
  const after = text.slice(caret).replace(/^[A-Za-z0-9_-]*/, '')
  const insert = `@${name}` + (after.startsWith(' ') ? '' : ' ')
  const next = text.slice(0, mention.start) + insert + after
  return { text: next, caret: mention.start + insert.length }
}

/** Known agent names mentioned in `text`, in order of first mention, without duplicates. */
export function extractMentions(text, agentNames) {
  const known = new Set(agentNames)
  const found = []
  const pattern = /(^|[\s([{"'])@([A-Za-z0-9_-]+)/g
  let match
  while ((match = pattern.exec(text)) !== null) {
    const name = match[2]
    if (known.has(name) && !found.includes(name)) found.push(name)
  }
  return found
}
