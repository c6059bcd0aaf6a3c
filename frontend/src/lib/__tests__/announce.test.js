import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { announceMessage, announceStatus, spoken } from '../announce.js'

describe('announce', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('says a status again even when the text is the same', () => {
    announceStatus('Copied')
    vi.advanceTimersByTime(100)
    expect(spoken.status).toBe('Copied')
    announceStatus('Copied')
    expect(spoken.status).toBe('') // emptied first: the change is what screen readers read
    vi.advanceTimersByTime(100)
    expect(spoken.status).toBe('Copied')
  })

  it('keeps only the last few messages and skips empty ones', () => {
    spoken.log.splice(0)
    for (const n of [1, 2, 3, 4, 5, 6]) announceMessage(`message ${n}`)
    announceMessage('   ')
    expect(spoken.log.map((e) => e.text)).toEqual(['message 3', 'message 4', 'message 5', 'message 6'])
  })
})
