// Long chats: the conversation arrives a page at a time (newest first, older pages as the reader
// scrolls up), and only a window of it is in the DOM, so a 2,000-message chat costs what a
// 150-message one does. The window either follows the end (new messages, streaming) or stays put
// while the reader is further up. Pure functions over `{follow, start}`; ChatView applies them.

export const PAGE = 50 // messages per request
export const WINDOW = 150 // messages rendered at most
export const STEP = 50 // how far the window moves at a time

export function followingEnd() {
  return { follow: true, start: 0 }
}

/** Index of the first rendered message. */
export function windowStart(win, length) {
  if (win.follow) return Math.max(0, length - WINDOW)
  return Math.max(0, Math.min(win.start, length - 1))
}

/** The reader reached the top: show older messages (already loaded ones first). */
export function windowUp(win, length) {
  return { follow: false, start: Math.max(0, windowStart(win, length) - STEP) }
}

/** `added` older messages were put in front: keep showing the same ones, then reveal the new. */
export function afterPrepend(win, length, added) {
  const start = windowStart(win, length - added) + added
  return { follow: false, start: Math.max(0, start - STEP) }
}

/** The reader reached the bottom of the window: show newer ones, following the end once there. */
export function windowDown(win, length) {
  const start = windowStart(win, length) + STEP
  return start + WINDOW >= length ? followingEnd() : { follow: false, start }
}

/** Whether the window's first rendered message is the first one loaded. */
export function atTop(win, length) {
  return windowStart(win, length) === 0
}

/** Whether the window shows the newest message. */
export function atEnd(win, length) {
  return win.follow || windowStart(win, length) + WINDOW >= length
}
