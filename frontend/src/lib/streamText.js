// The streamed text of a running answer, kept consistent from three sources that can arrive in any
// order and overlap: `chat_delta` events (each says at which `offset`, in code points, its text starts),
// whole messages (`chat`: the server's periodic save, the snapshot sent on `join`) and REST loads.
// All three are prefixes of one growing text, so the client keeps the longest one it can build
// without a hole: a delta that overlaps what it has adds only its new part, a delta after a hole
// waits in `pending` until a longer snapshot closes the hole. Nothing is lost or shown twice.

// Deltas kept while waiting for a snapshot; the server sends one at least every second, so a few
// hundred is plenty, and a bound keeps a client that never gets one from growing forever.
const MAX_PENDING = 2000

/** Length in code points (what the server's offsets count), not UTF-16 units. */
export function codePoints(text) {
  let count = 0
  // Iterating a string walks code points, without building an array of them.
  for (const char of text) if (char) count += 1
  return count
}

/** The part of `delta` (starting at `offset`) beyond the first `have` code points; null after a hole. */
export function unseenPart(delta, offset, have) {
  if (offset > have) return null
  const skip = have - offset
  if (skip === 0) return delta
  const chars = Array.from(delta)
  return skip >= chars.length ? '' : chars.slice(skip).join('')
}

function append(message, part) {
  if (!part) return
  message.stream += part
  message.streamChars += codePoints(part)
}

function drainPending(message) {
  if (!message.pending.length) return
  const waiting = message.pending.slice().sort((a, b) => a.offset - b.offset)
  const still = []
  for (const item of waiting) {
    const part = unseenPart(item.delta, item.offset, message.streamChars)
    if (part === null) still.push(item)
    else append(message, part)
  }
  message.pending = still
}

/** Adopt `text` (the answer as a whole message or a REST load has it) when it is ahead of ours. */
export function adoptSnapshot(message, text) {
  const chars = codePoints(text || '')
  if (chars > message.streamChars) {
    message.stream = text
    message.streamChars = chars
  }
  drainPending(message)
}

/** Add a `chat_delta`'s text. Without an `offset` (an older server) it is appended as it comes. */
export function addDelta(message, delta, offset) {
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    append(message, delta)
    return
  }
  const part = unseenPart(delta, offset, message.streamChars)
  if (part === null) {
    message.pending.push({ delta, offset })
    if (message.pending.length > MAX_PENDING) message.pending.shift()
    return
  }
  append(message, part)
  drainPending(message)
}
