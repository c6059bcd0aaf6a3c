import { describe, expect, it } from 'vitest'
import { messageTime } from '../time.js'

describe('messageTime', () => {
  it('gives the clock time today and the date before', () => {
    const now = new Date(2026, 2, 12, 15, 0).getTime()
    const today = messageTime(new Date(2026, 2, 12, 9, 5).getTime() / 1000, now)
    const before = messageTime(new Date(2026, 2, 10, 9, 5).getTime() / 1000, now)
    expect(today.short).not.toMatch(/Mar/)
    expect(before.short).toMatch(/Mar/)
    expect(today.iso).toBe(new Date(2026, 2, 12, 9, 5).toISOString())
    expect(messageTime(null)).toBeNull()
  })
})
