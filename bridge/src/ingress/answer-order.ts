// One client's PUBLISH answers, released in the order the PUBLISHes arrived (MQTT 3.1.1 §4.6:
// PUBACKs in arrival order) while the pipeline settles them out of order: a denied one at once,
// a stored one after its group's fdatasync, a busy one after its retries.
//
// Invariants:
// - every slot's reply runs exactly once, and only after the reply of every earlier slot;
// - `pending` counts slots added and not yet replied, `busy` those marked busy and not yet
//   replied: read-ahead stops while either is high.

export type Verdict = Error | null;

export interface AnswerSlot {
  readonly reply: (verdict: Verdict) => void;
  verdict?: Verdict;
  settled: boolean;
  /** The caller let the transport read past this message; undone before its reply. */
  readAhead: boolean;
  busy: boolean;
}

export class AnswerOrder {
  private slots: AnswerSlot[] = [];
  private head = 0;
  busy = 0;

  constructor(private readonly beforeReply: (slot: AnswerSlot) => void) {}

  get pending(): number {
    return this.slots.length - this.head;
  }

  /** The pipeline answered this slot's message 'busy' (counted once, until its reply). */
  markBusy(slot: AnswerSlot): void {
    if (slot.busy) return;
    slot.busy = true;
    this.busy++;
  }

  add(reply: (verdict: Verdict) => void): AnswerSlot {
    const slot: AnswerSlot = { reply, settled: false, readAhead: false, busy: false };
    this.slots.push(slot);
    return slot;
  }

  settle(slot: AnswerSlot, verdict: Verdict): void {
    slot.verdict = verdict;
    slot.settled = true;
    while (this.head < this.slots.length && this.slots[this.head]!.settled) {
      const next = this.slots[this.head]!;
      this.slots[this.head++] = undefined as unknown as AnswerSlot;
      if (next.busy) this.busy--;
      this.beforeReply(next);
      next.reply(next.verdict ?? null);
    }
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.slots.length) {
      // A client that never runs dry: drop the replied prefix now and then.
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }
}
