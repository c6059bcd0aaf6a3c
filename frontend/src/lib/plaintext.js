// The words of a markdown answer, for screen-reader announcements (no `**`, `|` or fences read out).
import { renderMarkdown } from './markdown.js'

export function markdownToText(markdown) {
  const html = renderMarkdown(markdown)
  if (!html) return ''
  // DOMParser builds an inert document: nothing in it loads or runs.
  const doc = new DOMParser().parseFromString(html, 'text/html')
  doc.querySelectorAll('.code-head').forEach((el) => el.remove())
  return (doc.body.textContent || '').replace(/\s+/g, ' ').trim()
}
