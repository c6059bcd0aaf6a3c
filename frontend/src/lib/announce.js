// What screen readers hear, kept apart from what is drawn. The chat thread itself is not a live
// region: a streamed answer changes it hundreds of times, and each change would be read out. Instead
// the app says each thing once here: short feedback ("Copied") in a polite status, whole chat
// messages (the user's, once; an answer, once it is complete) in a polite log.
import { reactive } from 'vue'

// The log keeps only its last few entries: screen readers read additions, not the whole history.
const KEEP = 4

export const spoken = reactive({ status: '', log: [] })

let nextId = 0
let statusTimer = null

/** A short, polite status ("Copied"). The same text twice in a row is read twice. */
export function announceStatus(text) {
  spoken.status = ''
  clearTimeout(statusTimer)
  // Emptied first, then set on the next task: a changed text is what makes the status speak again.
  statusTimer = setTimeout(() => {
    spoken.status = text
  }, 50)
}

/** A whole message, read once. */
export function announceMessage(text) {
  const value = String(text || '').trim()
  if (!value) return
  spoken.log.push({ id: ++nextId, text: value })
  if (spoken.log.length > KEEP) spoken.log.splice(0, spoken.log.length - KEEP)
}
