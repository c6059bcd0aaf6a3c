import { describe, expect, it } from 'vitest'
import { usageDetail, usageLabel } from '../usage.js'

const usage = (overrides = {}) => ({
  model: 'openai/gpt-4o',
  llm_calls: 2,
  input_tokens: 1200,
  output_tokens: 34,
  cost_usd: 0.003_14,
  ...overrides,
})

describe('usageLabel', () => {
  it('names the model, the tokens and the cost', () => {
    expect(usageLabel(usage())).toBe('openai/gpt-4o · 1,234 tokens · $0.0031')
  })
  it('leaves the cost out when the model has no price', () => {
    expect(usageLabel(usage({ cost_usd: null }))).toBe('openai/gpt-4o · 1,234 tokens')
  })
  it('formats tiny and large costs readably', () => {
    expect(usageLabel(usage({ cost_usd: 0.000_004 }))).toMatch(/<\$0\.0001$/)
    expect(usageLabel(usage({ cost_usd: 12.3456 }))).toMatch(/\$12\.35$/)
    expect(usageLabel(usage({ cost_usd: 0 }))).toMatch(/\$0$/)
  })
  it('is empty for a turn without model calls or from an older server', () => {
    expect(usageLabel(usage({ llm_calls: 0 }))).toBe('')
    expect(usageLabel(undefined)).toBe('')
  })
})

describe('usageDetail', () => {
  it('splits input and output and counts the calls', () => {
    expect(usageDetail(usage())).toBe('2 model calls: 1,200 in, 34 out, $0.003140')
    expect(usageDetail(usage({ llm_calls: 1, cost_usd: null }))).toBe(
      '1 model call: 1,200 in, 34 out, price unknown for this model',
    )
  })
})
