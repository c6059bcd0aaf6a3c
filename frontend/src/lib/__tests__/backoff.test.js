import { describe, expect, it } from 'vitest'
import { retryAfterOfAnswer, retryAfterOfError, secondsLeft } from '../backoff.js'

describe('backoff after a full disk on the server', () => {
  it('waits retry_after seconds after a storage_full error, and not after other errors', () => {
    expect(retryAfterOfError({ code: 'storage_full', message: 'full', retry_after: 30 })).toBe(30)
    expect(retryAfterOfError({ code: 'session_busy', message: 'busy', retry_after: 30 })).toBe(0)
    expect(retryAfterOfError({ code: 'storage_full', retry_after: 'soon' })).toBe(0)
    expect(retryAfterOfError({ code: 'storage_full', retry_after: 1e9 })).toBe(300) // capped
    expect(retryAfterOfError(null)).toBe(0)
  })

  it('waits after a final answer that could not be saved', () => {
    const unsaved = {
      msg_type: 'output',
      status: 'error',
      content: [{ agent_name: 'assistant', data: { error_type: 'storage_full', retry_after: 30 } }],
    }
    expect(retryAfterOfAnswer(unsaved)).toBe(30)
    expect(retryAfterOfAnswer({ ...unsaved, status: 'progress' })).toBe(0)
    const other = { ...unsaved, content: [{ agent_name: 'assistant', data: { error_type: 'rate_limit' } }] }
    expect(retryAfterOfAnswer(other)).toBe(0)
  })

  it('counts down in whole seconds', () => {
    expect(secondsLeft(10_500, 10_000)).toBe(1)
    expect(secondsLeft(40_000, 10_000)).toBe(30)
    expect(secondsLeft(9_000, 10_000)).toBe(0)
  })
})
