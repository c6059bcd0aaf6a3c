import { describe, expect, it } from 'vitest'
import {
  credentialsText,
  formatContext,
  formatPrice,
  groupModels,
  lastPickedModel,
  rememberPickedModel,
  searchModels,
} from '../models.js'

const MODELS = [
  { id: 'openai/gpt-4o', provider: 'openai', curated: true },
  { id: 'anthropic/claude-sonnet-4-5', provider: 'anthropic', curated: true },
  { id: 'anthropic/claude-haiku-4-5', provider: 'anthropic', curated: false },
  { id: 'openai/gpt-4o-mini', provider: 'openai', curated: false },
  { id: 'gemini/gemini-2.5-pro', provider: 'gemini', curated: false },
]

describe('models', () => {
  it('searches every word in the id', () => {
    expect(searchModels(MODELS, 'GPT 4o').map((m) => m.id)).toEqual(['openai/gpt-4o', 'openai/gpt-4o-mini'])
    expect(searchModels(MODELS, '  ')).toBe(MODELS)
  })

  it('groups curated models first, then by provider, within a limit', () => {
    const { groups, hidden } = groupModels(MODELS)
    expect(groups.map((g) => g.label)).toEqual(['On this server', 'anthropic', 'openai', 'gemini'])
    expect(groups[0].models.map((m) => m.id)).toEqual(['openai/gpt-4o', 'anthropic/claude-sonnet-4-5'])
    expect(hidden).toBe(0)
    const limited = groupModels(MODELS, 3)
    expect(limited.groups.flatMap((g) => g.models)).toHaveLength(3)
    expect(limited.hidden).toBe(2)
  })

  it('formats the figures a user compares', () => {
    expect(formatContext(128000)).toBe('128k')
    expect(formatContext(1048576)).toBe('1M')
    expect(formatContext(null)).toBeNull()
    expect(formatPrice({ input_cost_per_mtok: 2.5, output_cost_per_mtok: 10 })).toBe('$2.50 in / $10.00 out per 1M')
    expect(formatPrice({ input_cost_per_mtok: 0.15, output_cost_per_mtok: 0.6 })).toBe('$0.15 in / $0.6 out per 1M')
    expect(formatPrice({ input_cost_per_mtok: null, output_cost_per_mtok: null })).toBeNull()
  })

  it('names the missing variables', () => {
    expect(credentialsText({ credentials: 'missing', missing_env: ['GROQ_API_KEY'] })).toBe(
      'Credentials missing: set GROQ_API_KEY',
    )
    expect(credentialsText({ credentials: 'ok' })).toBe('Credentials set')
  })

  it('remembers the last picked model in the browser', () => {
    const store = new Map()
    const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) }
    expect(lastPickedModel(storage)).toBeNull()
    rememberPickedModel('anthropic/claude-sonnet-4-5', storage)
    expect(lastPickedModel(storage)).toBe('anthropic/claude-sonnet-4-5')
    const broken = { getItem: () => { throw new Error('denied') } }
    expect(lastPickedModel(broken)).toBeNull()
  })
})
