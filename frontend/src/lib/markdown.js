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
    `<pre><code class="hljs${safeLang ? ` language-${safeLang}` : ''}">${highlight(token.content, lang)}</code></pre></div>`
  )
}

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

/** Render untrusted markdown to sanitised HTML. */
export function renderMarkdown(text) {
  if (!text) return ''
  return purifier.sanitize(md.render(String(text)), PURIFY_OPTIONS)
}

/** Pretty JSON for an agent's returned data, highlighted and sanitised like the rest. */
export function renderJson(data) {
  let textual
  try {
    textual = JSON.stringify(data, null, 2)
  } catch {
    textual = String(data)
  }
  return purifier.sanitize(
    `<pre><code class="hljs language-json">${hljs.highlight(textual ?? 'null', { language: 'json' }).value}</code></pre>`,
    PURIFY_OPTIONS,
  )
}
