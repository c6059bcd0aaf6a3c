import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import StepImages from '../StepImages.vue'

const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='

describe('StepImages', () => {
  it('shows an image content block as an image named by its agent', () => {
    const data = { content: [{ type: 'text', text: 'hi' }, { type: 'image', mime_type: 'image/png', data: PIXEL }] }
    const wrapper = mount(StepImages, { props: { data, agent: 'remote__pixel' } })
    const img = wrapper.get('img')
    expect(img.attributes('src')).toBe(`data:image/png;base64,${PIXEL}`)
    expect(img.attributes('alt')).toBe('Image returned by remote__pixel')
  })

  it('shows nothing for other types, missing data or data that is not base64', () => {
    const data = {
      content: [
        { type: 'image', mime_type: 'image/svg+xml', data: PIXEL },
        { type: 'image', mime_type: 'image/png', bytes: 9000000 },
        { type: 'image', mime_type: 'image/png', data: 'x";onerror=alert(1)' },
      ],
    }
    const wrapper = mount(StepImages, { props: { data, agent: 'a' } })
    expect(wrapper.find('img').exists()).toBe(false)
    expect(mount(StepImages, { props: { data: { title: 'x' }, agent: 'a' } }).find('img').exists()).toBe(false)
  })
})
