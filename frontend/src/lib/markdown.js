// Markdown for model output. Two independent safety layers, because model text is untrusted:
// markdown-it never passes raw HTML through (html: false), and DOMPurify cleans whatever it emits.
import MarkdownIt from 'markdown-it'
import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import css from 'highlight.js/lib/languages/css'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import python from 'highlight.js/lib/languages/python'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'

const LANGUAGES = { bash, css, javascript, json, python, sql, typescript, xml, yaml }
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language)
hljs.registerAliases(['sh', 'shell', 'zsh', 'console'], { languageName: 'bash' })
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' })
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' })
hljs.registerAliases(['py'], { languageName: 'python' })
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' })
hljs.registerAliases(['yml'], { languageName: 'yaml' })

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false })
// What people type (and paste) keeps its line breaks; otherwise it is the same markdown.
const mdTyped = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false })

function highlight(code, lang) {
  if (lang && hljs.getLanguage(lang)) {
    return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value
  }
  return md.utils.escapeHtml(code)
}

// Fences get a header with the language and a copy button; the click is handled by the component
// (event delegation), so no inline handler is ever needed in the HTML.
md.renderer.rules.fence = (tokens, idx) => {
  const token = tokens[idx]
  const lang = (token.info || '').trim().split(/\s+/)[0].toLowerCase()
  const safeLang = md.utils.escapeHtml(lang)
  const label = safeLang || 'text'
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
    `<button type="button" class="copy-btn" aria-label="Copy code">Copy</button></div>` +
    // tabindex: a code block wider than the column scrolls sideways, which must work by keyboard too.
    `<pre tabindex="0"><code class="hljs${safeLang ? ` language-${safeLang}` : ''}">${highlight(token.content, lang)}</code></pre></div>`
  )
}

/**
 * The host an image URL would make the browser contact, or null when no third party is involved
 * (the app's own origin, data: URIs). ``base`` is the page's address.
 */
export function remoteImageHost(src, base = window.location.href) {
  let url
  try {
    url = new URL(src, base)
  } catch {
    return 'an unknown host'
  }
  if (url.protocol === 'data:' || url.origin === new URL(base).origin) return null
  return url.host || url.protocol
}

// An image in model output is a request to wherever its URL points, made as soon as it renders, and
// the URL can carry chat text (prompt injection through a page web_reader read can ask for exactly
// that). Unless the server allows remote images, it becomes a link naming the host instead: the
// image loads only when the user opens it (in a new tab: the page's CSP refuses remote images too).
const defaultImage = md.renderer.rules.image
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx]
  const src = token.attrGet('src') || ''
  const host = remoteImageHost(src)
  if (!host || env?.remoteImages) return defaultImage(tokens, idx, options, env, self)
  const escape = md.utils.escapeHtml
  const alt = self.renderInlineAsText(token.children || [], options, env).trim()
  return (
    `<a class="remote-image" href="${escape(src)}" title="Not loaded automatically. Opens ${escape(host)} in a new tab.">` +
    `<span class="remote-image-label">${escape(alt || 'Image')}</span>` +
    `<span class="remote-image-host">Image from ${escape(host)}, not loaded: click to open</span></a>`
  )
}

// Typed text renders with the same fences and image policy.
mdTyped.renderer.rules.fence = md.renderer.rules.fence
mdTyped.renderer.rules.image = md.renderer.rules.image

const purifier = DOMPurify(typeof window !== 'undefined' ? window : undefined)
purifier.addHook('afterSanitizeAttributes', (node) => {
  // Links from a model open in a new tab and never get access to this window.
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer nofollow')
  }
})

const PURIFY_OPTIONS = {
  USE_PROFILES: { html: true },
  ADD_ATTR: ['target'],
  FORBID_TAGS: ['style', 'form', 'input', 'textarea', 'select'],
}

/**
 * Render untrusted markdown to sanitised HTML. ``breaks``: single newlines are line breaks (typed
 * text). ``remoteImages``: show images from other sites inline (the server's
 * DIRECTOR_ALLOW_REMOTE_IMAGES); otherwise they are links that name the host.
 */
export function renderMarkdown(text, { breaks = false, remoteImages = false } = {}) {
  if (!text) return ''
  return purifier.sanitize((breaks ? mdTyped : md).render(String(text), { remoteImages }), PURIFY_OPTIONS)
}
