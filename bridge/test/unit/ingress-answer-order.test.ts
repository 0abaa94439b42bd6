import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AnswerOrder, type AnswerSlot } from '../../src/ingress/answer-order.ts';

describe('AnswerOrder', () => {
  it('replies once per slot, in the order the slots were added, whatever order they settle in', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }).chain((n) => fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), fc.array(fc.boolean(), { minLength: n, maxLength: n }))),
        ([n, settleOrder, busy]) => {
          const log: string[] = [];
          const order = new AnswerOrder((slot) => log.push(`before ${slot.verdict === null ? 'ok' : 'err'}`));
          const replies: number[] = [];
          const slots: AnswerSlot[] = [];
          for (let i = 0; i < n; i++) {
            slots.push(order.add(() => replies.push(i)));
            if (busy[i]) order.markBusy(slots[i]!);
          }
          expect(order.pending).toBe(n);
          for (const i of settleOrder) {
            order.settle(slots[i]!, i % 7 === 3 ? new Error('x') : null);
            // Nothing replies past a slot that has not settled.
            const firstOpen = slots.findIndex((s) => !s.settled);
            expect(replies.length).toBe(firstOpen < 0 ? n : firstOpen);
          }
          expect(replies).toEqual([...Array(n).keys()]);
          expect(log.length).toBe(n);
          expect(order.pending).toBe(0);
          expect(order.busy).toBe(0);
        },
      ),
    );
  });

  it('keeps order across the compaction of a long-running client', () => {
    const order = new AnswerOrder(() => undefined);
    const replies: number[] = [];
    const lagging = order.add(() => replies.push(-1));
    order.settle(lagging, null);
    let previous = order.add(() => replies.push(0));
    for (let i = 1; i < 5000; i++) {
      const slot = order.add(() => replies.push(i));
      order.settle(previous, null);
      previous = slot;
    }
    expect(order.pending).toBe(1);
    order.settle(previous, null);
    expect(replies).toEqual([-1, ...Array(5000).keys()]);
  });
});
