import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import ExportMenu from '../ExportMenu.vue'
import { exportFileName } from '../../lib/exportChat.js'

afterEach(() => vi.unstubAllGlobals())

describe('ExportMenu', () => {
  it('fetches the chosen format for the open chat and closes', async () => {
    const fetch = vi.fn(async () => new Response('# chat', { status: 200 }))
    vi.stubGlobal('fetch', fetch)
    URL.createObjectURL = vi.fn(() => 'blob:x')
    URL.revokeObjectURL = vi.fn()
    const wrapper = mount(ExportMenu, { props: { sessionId: 'abc:1' }, attachTo: document.body })
    await wrapper.get('[data-testid="export-toggle"]').trigger('click')
    expect(wrapper.get('[data-testid="export-toggle"]').attributes('aria-expanded')).toBe('true')
    await wrapper.get('[data-format="json"]').trigger('click')
    await flushPromises()
    expect(fetch.mock.calls[0][0]).toBe('/session/abc%3A1/export?format=json')
    expect(wrapper.find('[data-format="json"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('says why an export failed', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Response.json({ code: 'not_found', message: 'No session.' }, { status: 404 })))
    const wrapper = mount(ExportMenu, { props: { sessionId: 'gone' } })
    await wrapper.get('[data-testid="export-toggle"]').trigger('click')
    await wrapper.get('[data-format="md"]').trigger('click')
    await flushPromises()
    expect(wrapper.get('[role="alert"]').text()).toBe('No session.')
  })

  it('names files safely', () => {
    expect(exportFileName('abc:1/..', 'md')).toBe('director-abc_1_...md')
  })
})
