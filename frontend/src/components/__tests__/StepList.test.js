import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import StepList from '../StepList.vue'

const THINKING = {
  agent_name: 'thinking',
  status: 'success',
  status_message: 'Thinking',
  text: 'First add two and two, which gives four.',
}

describe('StepList', () => {
  it('shows the model reasoning as a collapsed "Thinking" step that opens on click', async () => {
    const wrapper = mount(StepList, { props: { steps: [THINKING], msgId: 'm1' } })
    const head = wrapper.get('button.step-head')
    expect(head.attributes('aria-label')).toBe('Thinking, done')
    expect(head.attributes('aria-expanded')).toBe('false')
    expect(wrapper.text()).not.toContain('gives four') // collapsed: the reasoning is not shown
    await head.trigger('click')
    expect(head.attributes('aria-expanded')).toBe('true')
    expect(wrapper.get('.details').text()).toContain('First add two and two, which gives four.')
  })

  it('keeps naming agent steps by their agent', () => {
    const step = { agent_name: 'pricing', status: 'success', text: 'gpt-4o: $2.50', data: null }
    const wrapper = mount(StepList, { props: { steps: [step], msgId: 'm2' } })
    expect(wrapper.get('button.step-head').attributes('aria-label')).toBe('pricing, done')
    expect(wrapper.text()).toContain('gpt-4o: $2.50')
  })
})
