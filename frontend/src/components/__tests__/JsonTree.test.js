import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import JsonTree from '../JsonTree.vue'

const DATA = {
  note: '<img src=x onerror=alert(1)>',
  models: Array.from({ length: 12 }, (_, n) => ({ model: `model-${n}`, a: 1, b: 2, c: 3, d: 4, e: 5, f: null })),
  ok: true,
}

describe('JsonTree', () => {
  it('shows strings that look like HTML as text', () => {
    const wrapper = mount(JsonTree, { props: { value: DATA } })
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.text()).toContain('"<img src=x onerror=alert(1)>"')
    expect(wrapper.text()).toContain('true')
  })

  it('opens the top levels and folds big deep objects, named by their first field', () => {
    const wrapper = mount(JsonTree, { props: { value: DATA } })
    const branches = wrapper.findAll('details')
    expect(branches[0].attributes('open')).toBeDefined() // the root
    expect(branches[1].attributes('open')).toBeDefined() // "models": [...]
    const item = branches[2] // one model, 7 keys, two levels down
    expect(item.attributes('open')).toBeUndefined()
    expect(item.find('summary').text()).toContain('"model": "model-0"')
    expect(item.find('summary').text()).toContain('7 keys')
  })

  it('writes the keys and values it is given, commas between them', () => {
    const wrapper = mount(JsonTree, { props: { value: { a: 1, b: [null, 'x'] } } })
    const text = wrapper.text().replace(/\s+/g, '')
    expect(text).toContain('"a":1,')
    expect(text).toContain('null,"x"]')
  })
})
