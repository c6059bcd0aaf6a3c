import { describe, expect, it } from 'vitest'
import { renderJson, renderMarkdown } from '../markdown.js'

function dom(html) {
  const root = document.createElement('div')
  root.innerHTML = html
  return root
}

describe('renderMarkdown', () => {
  it('shows raw HTML from the model as text, never as elements', () => {
    const html = renderMarkdown('Look: <img src=x onerror="alert(1)"> and <script>alert(2)</script>')
    const root = dom(html)
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('script')).toBeNull()
    expect(root.textContent).toContain('<img src=x onerror="alert(1)">')
    expect(root.textContent).toContain('<script>alert(2)</script>')
    expect(html).not.toMatch(/<img|<script/i)
  })

  it('drops javascript: links but keeps normal ones, opening them in a new tab', () => {
    const root = dom(renderMarkdown('[bad](javascript:alert(1)) and [good](https://example.com)'))
    const links = [...root.querySelectorAll('a')]
    expect(links.some((a) => (a.getAttribute('href') || '').startsWith('javascript:'))).toBe(false)
    const good = links.find((a) => a.getAttribute('href') === 'https://example.com')
    expect(good).toBeTruthy()
    expect(good.getAttribute('target')).toBe('_blank')
    expect(good.getAttribute('rel')).toContain('noopener')
  })

  it('renders markdown structure', () => {
    const root = dom(renderMarkdown('# Title\n\n- **one**\n- `two`'))
    expect(root.querySelector('h1')?.textContent).toBe('Title')
    expect(root.querySelectorAll('li')).toHaveLength(2)
    expect(root.querySelector('strong')?.textContent).toBe('one')
    expect(root.querySelector('code')?.textContent).toBe('two')
  })

  it('highlights fenced code and adds a copy button, keeping the code text exact', () => {
    const code = 'def f(x):\n    return "<b>" + x\n'
    const root = dom(renderMarkdown('```python\n' + code + '```'))
    const block = root.querySelector('.code-block')
    expect(block).not.toBeNull()
    expect(block.querySelector('.code-lang').textContent).toBe('python')
    expect(block.querySelector('button.copy-btn')).not.toBeNull()
    expect(block.querySelector('pre code').textContent).toBe(code)
    expect(block.querySelector('pre code .hljs-keyword')?.textContent).toBe('def')
    expect(block.querySelector('b')).toBeNull()
  })

  it('escapes code in unknown languages and a hostile info string', () => {
    const root = dom(renderMarkdown('```"><img src=x onerror=alert(1)>\n<img src=y>\n```'))
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('pre code').textContent).toBe('<img src=y>\n')
  })

  it('returns an empty string for empty input', () => {
    expect(renderMarkdown('')).toBe('')
    expect(renderMarkdown(null)).toBe('')
  })
})

describe('renderJson', () => {
  it('pretty-prints data and escapes strings that look like HTML', () => {
    const root = dom(renderJson({ model: 'gpt', note: '<img src=x onerror=alert(1)>' }))
    expect(root.querySelector('img')).toBeNull()
    const text = root.querySelector('pre code').textContent
    expect(JSON.parse(text)).toEqual({ model: 'gpt', note: '<img src=x onerror=alert(1)>' })
  })
})
