import { describe, expect, it } from 'vitest'
import { renderMarkdown } from '../markdown.js'
import { markdownToText } from '../plaintext.js'

describe('markdown for people and screen readers', () => {
  it('keeps typed line breaks only when asked', () => {
    expect(renderMarkdown('one\ntwo', { breaks: true })).toContain('<br>')
    expect(renderMarkdown('one\ntwo')).not.toContain('<br>')
  })

  it('makes code blocks focusable so they scroll by keyboard', () => {
    expect(renderMarkdown('```js\nlet a = 1\n```')).toMatch(/<pre tabindex="0">/)
  })

  it('reads an answer as words: no markup, no code header', () => {
    const text = markdownToText('## Title\n\n**bold** and `code`\n\n```python\nprint(1)\n```\n\n| a |\n|---|\n| b |')
    expect(text).toBe('Title bold and code print(1) a b')
  })
})
