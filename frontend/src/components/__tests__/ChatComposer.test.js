import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import ChatComposer from '../ChatComposer.vue'

const AGENTS = [
  { name: 'pricing', description: 'Model prices' },
  { name: 'summarize', description: 'Summaries' },
  { name: 'web_reader', description: 'Reads pages' },
]

async function type(textarea, value) {
  await textarea.setValue(value)
  textarea.element.setSelectionRange(value.length, value.length)
  await textarea.trigger('input')
}

describe('ChatComposer', () => {
  it('sends on Enter with the mentioned agents, and Shift+Enter does not send', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS } })
    const textarea = wrapper.get('textarea')
    await type(textarea, 'price of @pricing please')
    await textarea.trigger('keydown', { key: 'Enter', shiftKey: true })
    expect(wrapper.emitted('send')).toBeUndefined()
    await textarea.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toEqual([[{ text: 'price of @pricing please', agents: ['pricing'], images: [] }]])
    expect(textarea.element.value).toBe('')
  })

  it('completes an agent with the keyboard', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS }, attachTo: document.body })
    const textarea = wrapper.get('textarea')
    await type(textarea, 'use @')
    const options = () => wrapper.findAll('[role="option"]')
    expect(options().map((o) => o.text())).toEqual([
      expect.stringContaining('@pricing'),
      expect.stringContaining('@summarize'),
      expect.stringContaining('@web_reader'),
    ])
    await textarea.trigger('keydown', { key: 'ArrowDown' })
    expect(options()[1].attributes('aria-selected')).toBe('true')
    await textarea.trigger('keydown', { key: 'Enter' })
    expect(textarea.element.value).toBe('use @summarize ')
    expect(wrapper.find('[role="listbox"]').exists()).toBe(false)
    // Enter chose the agent; it did not send the message.
    expect(wrapper.emitted('send')).toBeUndefined()
    wrapper.unmount()
  })

  it('shows Stop instead of Send while a turn runs', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS, running: true } })
    await type(wrapper.get('textarea'), 'next')
    await wrapper.get('textarea').trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toBeUndefined()
    await wrapper.get('button[aria-label="Stop"]').trigger('click')
    expect(wrapper.emitted('stop')).toHaveLength(1)
  })
  it('holds sending while the server asks to wait (storage full), then sends', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS, waitSeconds: 30 } })
    await type(wrapper.get('textarea'), 'hello')
    await wrapper.get('textarea').trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toBeUndefined()
    expect(wrapper.get('button[aria-label="Send message"]').attributes('disabled')).toBeDefined()
    expect(wrapper.get('[data-testid="send-wait"]').text()).toContain('send again in 30 s')
    await wrapper.setProps({ waitSeconds: 0 })
    await wrapper.get('textarea').trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toEqual([[{ text: 'hello', agents: [], images: [] }]])
    expect(wrapper.find('[data-testid="send-wait"]').exists()).toBe(false)
  })
})

describe('ChatComposer keyboard', () => {
  it('keeps focus in the box after Send and Stop', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS }, attachTo: document.body })
    const textarea = wrapper.get('textarea')
    await type(textarea, 'hello')
    const send = wrapper.get('button[aria-label="Send message"]')
    send.element.focus()
    await wrapper.get('form').trigger('submit')
    expect(document.activeElement).toBe(textarea.element)
    await wrapper.setProps({ running: true })
    wrapper.get('button[aria-label="Stop"]').element.focus()
    await wrapper.get('button[aria-label="Stop"]').trigger('click')
    expect(document.activeElement).toBe(textarea.element)
    wrapper.unmount()
  })

  it('turns PageUp and PageDown into thread scrolling', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS } })
    await wrapper.get('textarea').trigger('keydown', { key: 'PageUp' })
    await wrapper.get('textarea').trigger('keydown', { key: 'PageDown' })
    expect(wrapper.emitted('page')).toEqual([[-1], [1]])
  })

  it('on a touch screen Enter adds a line and only the button (or Ctrl+Enter) sends', async () => {
    const original = window.matchMedia
    window.matchMedia = (query) => ({ matches: query === '(pointer: coarse)' })
    try {
      const wrapper = mount(ChatComposer, { props: { agents: AGENTS } })
      const textarea = wrapper.get('textarea')
      await type(textarea, 'from a phone')
      const enter = await textarea.trigger('keydown', { key: 'Enter' })
      expect(enter).toBeUndefined()
      expect(wrapper.emitted('send')).toBeUndefined()
      expect(wrapper.find('.hint').exists()).toBe(false)
      await textarea.trigger('keydown', { key: 'Enter', ctrlKey: true })
      expect(wrapper.emitted('send')).toHaveLength(1)
    } finally {
      window.matchMedia = original
    }
  })

  it('attaches chosen images, refuses what the server would, and sends them with or without text', async () => {
    const wrapper = mount(ChatComposer, { props: { agents: AGENTS } })
    const input = wrapper.get('[data-testid="image-input"]')
    const png = new File([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])], 'pixel.png', { type: 'image/png' })
    const svg = new File(['<svg/>'], 'logo.svg', { type: 'image/svg+xml' })
    Object.defineProperty(input.element, 'files', { value: [png, svg], configurable: true })
    await input.trigger('change')
    // FileReader is asynchronous.
    await vi.waitFor(() => expect(wrapper.findAll('[data-testid="attachments"] img')).toHaveLength(1))
    expect(wrapper.get('[role="alert"]').text()).toContain('logo.svg is not a PNG, JPEG, GIF or WebP image.')
    // An image alone can be sent.
    expect(wrapper.get('button[aria-label="Send message"]').attributes('disabled')).toBeUndefined()
    await wrapper.get('textarea').trigger('keydown', { key: 'Enter' })
    const [[sent]] = wrapper.emitted('send')
    expect(sent.text).toBe('')
    expect(sent.images).toHaveLength(1)
    expect(sent.images[0]).toMatch(/^data:image\/png;base64,/)
    expect(wrapper.find('[data-testid="attachments"]').exists()).toBe(false)
  })
})
