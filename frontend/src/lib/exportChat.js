// Download a chat as Markdown or JSON from GET /session/<id>/export (the server renders it, as it does for
// the CLI). Fetched with the token, then saved through a temporary object URL and an <a download>.
import { authHeaders } from './auth.js'

export const EXPORT_FORMATS = [
  { format: 'md', label: 'Markdown' },
  { format: 'json', label: 'JSON' },
]

export function exportFileName(sessionId, format) {
  return `director-${String(sessionId).replace(/[^A-Za-z0-9._-]/g, '_')}.${format}`
}

export async function downloadChat(sessionId, format, doc = document) {
  const path = `/session/${encodeURIComponent(sessionId)}/export?format=${encodeURIComponent(format)}`
  let response
  try {
    response = await fetch(path, { headers: authHeaders() })
  } catch {
    throw new Error('The server cannot be reached.')
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null)
    throw new Error(body?.message || `Export failed (${response.status}).`)
  }
  const blob = await response.blob()
  const url = URL.createObjectURL(blob)
  const link = doc.createElement('a')
  link.href = url
  link.download = exportFileName(sessionId, format)
  link.style.display = 'none'
  doc.body.appendChild(link)
  link.click()
  link.remove()
  // Revoked after the click has been handled: the download has its own copy by then.
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
