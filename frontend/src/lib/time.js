// Short, human times for the sidebar ("just now", "5 min ago", "Mon", "12 Mar").
export function relativeTime(epochSeconds, now = Date.now()) {
  if (!epochSeconds) return ''
  const then = epochSeconds * 1000
  const seconds = Math.max(0, Math.round((now - then) / 1000))
  if (seconds < 45) return 'just now'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return `${hours} h ago`
  const date = new Date(then)
  const days = Math.round(hours / 24)
  if (days < 7) return date.toLocaleDateString(undefined, { weekday: 'short' })
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })
}

/** A message's time: "14:05" today, "12 Mar, 14:05" before; `full` for its tooltip. */
export function messageTime(epochSeconds, now = Date.now()) {
  if (!epochSeconds) return null
  const date = new Date(epochSeconds * 1000)
  const clock = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
  const sameDay = new Date(now).toDateString() === date.toDateString()
  return {
    short: sameDay ? clock : `${date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}, ${clock}`,
    full: date.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' }),
    iso: date.toISOString(),
  }
}
