import { describe, expect, it } from 'vitest'
import { applyMention, extractMentions, filterAgents, findMentionQuery } from '../mentions.js'

const AGENTS = [
  { name: 'pricing', description: 'prices' },
  { name: 'web_reader', description: 'reads pages' },
  { name: 'summarize', description: 'summaries' },
  { name: 'compare_models', description: 'compares' },
]

describe('findMentionQuery', () => {
  it('finds the mention being typed at the caret', () => {
    expect(findMentionQuery('ask @pri', 8)).toEqual({ start: 4, query: 'pri' })
    expect(findMentionQuery('@', 1)).toEqual({ start: 0, query: '' })
    expect(findMentionQuery('x\n@web_r', 8)).toEqual({ start: 2, query: 'web_r' })
  })

  it('ignores e-mail addresses, finished words and text without @', () => {
    expect(findMentionQuery('me@example', 10)).toBeNull()
    expect(findMentionQuery('@pricing now', 12)).toBeNull()
    expect(findMentionQuery('hello', 5)).toBeNull()
  })

  it('uses the caret, not the end of the text', () => {
    const text = 'use @pr and more'
    expect(findMentionQuery(text, 7)).toEqual({ start: 4, query: 'pr' })
  })
})

describe('filterAgents', () => {
  it('lists every agent for an empty query', () => {
    expect(filterAgents(AGENTS, '').map((a) => a.name)).toEqual(AGENTS.map((a) => a.name))
  })

  it('puts prefix matches before substring matches, case-insensitively', () => {
    expect(filterAgents(AGENTS, 'S').map((a) => a.name)).toEqual(['summarize', 'compare_models'])
    expect(filterAgents(AGENTS, 'read').map((a) => a.name)).toEqual(['web_reader'])
    expect(filterAgents(AGENTS, 'zzz')).toEqual([])
  })
})

describe('applyMention', () => {
  it('completes the mention and puts the caret after a space', () => {
    const text = 'ask @pri'
    const result = applyMention(text, findMentionQuery(text, 8), 8, 'pricing')
    expect(result).toEqual({ text: 'ask @pricing ', caret: 13 })
  })

  it('replaces the rest of a partially typed name in the middle of text', () => {
    const text = 'ask @prXX about gpt'
    const result = applyMention(text, { start: 4, query: 'pr' }, 7, 'pricing')
    expect(result.text).toBe('ask @pricing about gpt')
    expect(result.text.slice(0, result.caret)).toBe('ask @pricing')
  })
})

describe('extractMentions', () => {
  it('returns known agents in order, once each', () => {
    const names = AGENTS.map((a) => a.name)
    expect(extractMentions('@summarize then @pricing and @summarize', names)).toEqual(['summarize', 'pricing'])
  })

  it('ignores unknown names and e-mail addresses', () => {
    const names = AGENTS.map((a) => a.name)
    expect(extractMentions('mail bob@pricing or @nobody', names)).toEqual([])
  })
})
