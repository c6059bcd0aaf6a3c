// Keeping keyboard focus where it belongs: inside an open dialog or drawer, and on a real element.

const FOCUSABLE = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled])',
  'textarea:not([disabled])',
  'select:not([disabled])',
  '[tabindex]:not([tabindex="-1"])',
].join(',')

/** The elements Tab can reach inside `container`, in order (hidden ones left out). */
export function focusables(container) {
  if (!container) return []
  return [...container.querySelectorAll(FOCUSABLE)].filter(
    (el) => !el.closest('[inert]') && el.getClientRects().length > 0,
  )
}

/**
 * Tab and Shift+Tab wrap around inside `container` instead of leaving it (a modal's focus trap).
 * Call from a keydown handler; returns whether it moved the focus.
 */
export function trapTab(event, container) {
  if (event.key !== 'Tab' || !container) return false
  const items = focusables(container)
  if (!items.length) return false
  const first = items[0]
  const last = items[items.length - 1]
  const active = document.activeElement
  const inside = container.contains(active)
  if (event.shiftKey && (active === first || !inside)) {
    event.preventDefault()
    last.focus()
    return true
  }
  if (!event.shiftKey && (active === last || !inside)) {
    event.preventDefault()
    first.focus()
    return true
  }
  return false
}
