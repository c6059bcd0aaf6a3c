import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { trapTab } from '../focus.js'

describe('trapTab', () => {
  let container
  let rects
  beforeEach(() => {
    document.body.innerHTML = '<button id="out">out</button><div id="box"><button id="a">a</button><button id="b">b</button></div>'
    container = document.getElementById('box')
    // jsdom lays nothing out: every element counts as visible here.
    rects = vi.spyOn(Element.prototype, 'getClientRects').mockReturnValue([{}])
  })
  afterEach(() => rects.mockRestore())

  const tab = (shiftKey = false) => new KeyboardEvent('keydown', { key: 'Tab', shiftKey, cancelable: true })

  it('wraps from the last element to the first, and back with Shift', () => {
    document.getElementById('b').focus()
    const forward = tab()
    expect(trapTab(forward, container)).toBe(true)
    expect(forward.defaultPrevented).toBe(true)
    expect(document.activeElement.id).toBe('a')
    expect(trapTab(tab(true), container)).toBe(true)
    expect(document.activeElement.id).toBe('b')
  })

  it('leaves Tab alone in the middle, and pulls focus back in from outside', () => {
    document.getElementById('a').focus()
    const middle = tab()
    expect(trapTab(middle, container)).toBe(false)
    expect(middle.defaultPrevented).toBe(false)
    document.getElementById('out').focus()
    expect(trapTab(tab(), container)).toBe(true)
    expect(document.activeElement.id).toBe('a')
  })
})
