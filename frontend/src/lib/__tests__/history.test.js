import { describe, expect, it } from 'vitest'
import { STEP, WINDOW, afterPrepend, atEnd, atTop, followingEnd, windowDown, windowStart, windowUp } from '../history.js'

describe('the rendered window of a long chat', () => {
  it('follows the end, never rendering more than WINDOW messages', () => {
    expect(windowStart(followingEnd(), 40)).toBe(0)
    expect(windowStart(followingEnd(), 1000)).toBe(1000 - WINDOW)
  })

  it('moves up a step at a time, then stays put while new messages arrive', () => {
    const up = windowUp(followingEnd(), 1000)
    expect(windowStart(up, 1000)).toBe(1000 - WINDOW - STEP)
    expect(windowStart(up, 1001)).toBe(1000 - WINDOW - STEP) // a new answer does not move it
    expect(atEnd(up, 1001)).toBe(false)
  })

  it('after older messages are prepended, reveals them and keeps its place otherwise', () => {
    const top = { follow: false, start: 0 }
    expect(atTop(top, 100)).toBe(true)
    const moved = afterPrepend(top, 150, 50)
    expect(windowStart(moved, 150)).toBe(0) // the 50 new ones are shown above the old first one
    const following = afterPrepend(followingEnd(), 150, 50) // 100 loaded, all shown, then 50 more
    expect(windowStart(following, 150)).toBe(0)
  })

  it('moves down and follows the end again once it reaches it', () => {
    let win = { follow: false, start: 0 }
    win = windowDown(win, 400)
    expect(windowStart(win, 400)).toBe(STEP)
    for (let i = 0; i < 3; i++) win = windowDown(win, 400)
    expect(windowStart(win, 400)).toBe(4 * STEP)
    expect(win.follow).toBe(false)
    win = windowDown(win, 400) // 250 + 150 reaches the end
    expect(win.follow).toBe(true)
    expect(atEnd(win, 400)).toBe(true)
  })
})
