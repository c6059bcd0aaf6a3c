// Bring one message of the thread into view and give it focus: a search result opens its chat at
// the message that matched. The message gets a brief outline so the eye finds it.

const HIGHLIGHT_MS = 2500

/** Scroll `msgId`'s message (an element with `data-msg-id`) to the middle of `container`; false if absent. */
export function revealMessage(container, msgId) {
  if (!container || !msgId) return false
  const target = Array.from(container.querySelectorAll('[data-msg-id]')).find((el) => el.dataset.msgId === msgId)
  if (!target) return false
  target.scrollIntoView({ block: 'center' })
  // Focus follows for keyboard and screen-reader users; -1 keeps it out of the Tab order.
  if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1')
  target.focus({ preventScroll: true })
  target.classList.add('search-hit')
  setTimeout(() => target.classList.remove('search-hit'), HIGHLIGHT_MS)
  return true
}
