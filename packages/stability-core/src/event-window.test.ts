import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventWindow } from './event-window.js'

describe('EventWindow', () => {
  it('allocates nothing until the first event, then grows by doubling up to the capacity', () => {
    const w = new EventWindow(1000, 20)
    expect(w.allocated).toBe(0)
    w.record(1)
    expect(w.allocated).toBe(8)
    for (let t = 2; t <= 9; t++) w.record(t)
    expect(w.allocated).toBe(16)
    for (let t = 10; t <= 30; t++) w.record(t)
    expect(w.allocated).toBe(20)
    expect(w.entries).toBe(20)
    expect(w.merged).toBe(10)
    expect(w.count(30)).toBe(30)
  })

  it('expires events older than the window, keeping one exactly windowMs old', () => {
    const w = new EventWindow(100, 16)
    w.record(0)
    w.record(50, 3)
    expect(w.count(100)).toBe(4)
    expect(w.count(101)).toBe(3)
    expect(w.count(150)).toBe(3)
    expect(w.count(151)).toBe(0)
    expect(w.entries).toBe(0)
  })

  it('keeps the buffer ordered when the clock steps back or returns NaN', () => {
    const w = new EventWindow(100, 16)
    w.record(50)
    w.record(10)
    w.record(Number.NaN)
    expect(w.entries).toBe(1)
    expect(w.count(150)).toBe(3)
    expect(w.count(151)).toBe(0)
  })

  it('clears everything', () => {
    const w = new EventWindow(100, 4)
    for (let t = 0; t < 10; t++) w.record(t)
    w.clear()
    expect([w.count(10), w.entries, w.allocated, w.merged]).toEqual([0, 0, 0, 0])
  })

  it('raises a capacity below 2 to 2', () => {
    expect(new EventWindow(10, 1).capacity).toBe(2)
  })

  it('round-trips through ages', () => {
    const w = new EventWindow(1000, 8)
    w.record(100)
    w.record(300, 2)
    const ages = w.toAges(500)
    expect(ages).toEqual([
      [400, 1],
      [200, 2],
    ])
    const copy = new EventWindow(1000, 8)
    copy.loadAges(ages, 10_500)
    expect(copy.count(11_100)).toBe(3)
    expect(copy.count(11_101)).toBe(2)
  })

  it('equals a naive count while under capacity, and never undercounts past it (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 16 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 3 }), fc.boolean()), { maxLength: 200 }),
        (capacity, steps) => {
          const windowMs = 100
          const w = new EventWindow(windowMs, capacity)
          const log: [number, number][] = []
          let now = 0
          for (const [gap, count, read] of steps) {
            now += gap
            if (read) {
              const naive = log.filter(([t]) => now - t <= windowMs).reduce((sum, [, c]) => sum + c, 0)
              const got = w.count(now)
              if (w.merged === 0) expect(got).toBe(naive)
              else expect(got).toBeGreaterThanOrEqual(naive)
              expect(got).toBeLessThanOrEqual(log.reduce((sum, [, c]) => sum + c, 0))
              expect(w.entries).toBeLessThanOrEqual(capacity)
            } else {
              w.record(now, count)
              log.push([now, count])
            }
          }
        },
      ),
    )
  })
})
