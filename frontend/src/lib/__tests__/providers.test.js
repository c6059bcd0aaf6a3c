import { describe, expect, it } from 'vitest'
import data from '../../../../backend/director/llm/providers.json'
import { SETUP_PROVIDERS, toSetupProvider } from '../providers.js'

describe('setup panel providers', () => {
  it('turns an example into copyable .env lines, in the order written', () => {
    const provider = toSetupProvider({
      id: 'x',
      label: 'X',
      env: { LITELLM_CHAT_MODEL: 'x/model', X_API_KEY: 'k-...' },
    })
    expect(provider).toEqual({ id: 'x', label: 'X', lines: ['LITELLM_CHAT_MODEL=x/model', 'X_API_KEY=k-...'], note: null })
  })

  it('shows only the examples marked for the panel, each starting with the model', () => {
    const marked = data.providers.filter((p) => p.setup_panel).map((p) => p.id)
    expect(SETUP_PROVIDERS.map((p) => p.id)).toEqual(marked)
    expect(SETUP_PROVIDERS.length).toBeLessThan(data.providers.length)
    for (const provider of SETUP_PROVIDERS) expect(provider.lines[0]).toMatch(/^LITELLM_CHAT_MODEL=\S+$/)
  })
})
