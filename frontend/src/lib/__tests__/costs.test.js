import { describe, expect, it } from 'vitest'
import { budgetBar, callLabel, dailySeries, formatUsd, refusalOf, totalsLabel } from '../costs.js'

describe('costs', () => {
  it('labels a chat’s totals and nothing before its first call', () => {
    expect(totalsLabel({ input_tokens: 1234, output_tokens: 56, cached_tokens: 0, cost_usd: 0.0031, llm_calls: 6 })).toBe(
      '1,234 in · 56 out · $0.0031 · 6 model calls',
    )
    expect(totalsLabel({ input_tokens: 10, output_tokens: 5, cached_tokens: 8, cost_usd: 0, llm_calls: 1 })).toBe(
      '10 in · 5 out · 8 cached · $0 · 1 model call',
    )
    expect(totalsLabel({ llm_calls: 0 })).toBe('')
    expect(totalsLabel(null)).toBe('')
  })

  it('labels one call, the agent’s name and an unpriced model included', () => {
    const call = { agent: 'summarize', model: 'm', input_tokens: 10, output_tokens: 5, cost_usd: null, latency_ms: 812.4, outcome: 'success' }
    expect(callLabel(call)).toBe('summarize · m · 10 in / 5 out · unpriced · 812 ms')
    expect(callLabel({ ...call, agent: null, cost_usd: 1.5, outcome: 'rate_limit' })).toBe(
      'assistant · m · 10 in / 5 out · $1.50 · 812 ms · rate_limit',
    )
  })

  it('shows a budget bar only from 80% and caps it at full', () => {
    expect(budgetBar('b', 0.79, 1)).toBe(null)
    expect(budgetBar('b', 0.8, 1)).toEqual({ label: 'b', used: 0.8, limit: 1, share: 0.8 })
    expect(budgetBar('b', 3, 1).share).toBe(1)
    expect(budgetBar('b', 3, null)).toBe(null)
  })

  it('finds a budget refusal in the answer block', () => {
    const data = { error_type: 'budget_exceeded', budget: 'session', setting: 'DIRECTOR_SESSION_BUDGET_USD' }
    expect(refusalOf({ content: [{ agent_name: 'assistant', data }] })).toBe(data)
    expect(refusalOf({ content: [{ agent_name: 'assistant', data: { error_type: 'rate_limit' } }] })).toBe(null)
  })

  it('fills the days without calls', () => {
    const now = Date.parse('2026-11-30T12:00:00Z')
    const series = dailySeries([{ key: '2026-11-29', cost_usd: 0.5, input_tokens: 3, output_tokens: 4 }], 3, now)
    expect(series).toEqual([
      { day: '2026-11-28', cost: 0, tokens: 0 },
      { day: '2026-11-29', cost: 0.5, tokens: 7 },
      { day: '2026-11-30', cost: 0, tokens: 0 },
    ])
    expect(formatUsd(undefined)).toBe('—')
  })
})
