// ConfirmWindow: one confirm channel and the publishes on it the broker has not answered.
//
// Invariants:
// - delivery tags are per channel, from 1, one per publish written; confirms settle
//   them in tag order (`multiple` settles every tag up to the one named);
// - every publish written settles exactly once through `settled`: confirmed, returned,
//   nacked, or failed when the channel closes first;
// - a basic.return is remembered on its publish and decides the outcome when the
//   ack (or the close) arrives, since the broker sends the return first.
import { IllegalOperationError, type ConfirmChannel, type Message } from 'amqplib';
import type { OutboundMessage, PublishOutcome } from '../../types.ts';
import { LinkLostError, UnpublishableError } from '../../amqp/errors.ts';
import { publishFast, returnReason } from '../../adapters/amqplib.ts';

export interface PublishJob {
  msg: OutboundMessage;
  resolve: (r: PublishOutcome) => void;
}

interface Pending {
  job: PublishJob;
  returned?: { replyCode: number; replyText: string };
}

export type SendResult = 'sent' | 'closing' | { refused: Error };

const CONFIRMED: PublishOutcome = Object.freeze({ kind: 'confirmed' });

export class ConfirmWindow {
  open = true;
  /** publish() returned false: wait for 'drain' before writing again. */
  draining = false;
  private nextTag = 1;
  private readonly inFlight = new Map<number, Pending>();

  constructor(
    readonly ch: ConfirmChannel,
    private readonly exchange: string,
    /** Called once per publish written, as it settles. */
    private readonly settled: (outcome: PublishOutcome, job: PublishJob) => void,
  ) {}

  get size(): number {
    return this.inFlight.size;
  }

  /** Writes one persistent, mandatory publish. 'closing': nothing was written, hand the job to another channel. */
  send(job: PublishJob): SendResult {
    const { msg } = job;
    let ok: boolean;
    try {
      ok = publishFast(this.ch, this.exchange, msg.routingKey, msg.body, {
        persistent: true,
        mandatory: true,
        messageId: msg.messageId,
        timestamp: Math.floor(msg.acceptedAt / 1000),
        contentType: msg.contentType,
        headers: msg.headers,
      });
    } catch (err) {
      if (err instanceof IllegalOperationError) {
        this.open = false;
        return 'closing';
      }
      return { refused: new UnpublishableError(`amqplib refused the message: ${(err as Error).message}`, { cause: err }) };
    }
    this.inFlight.set(this.nextTag++, { job });
    if (!ok) this.draining = true;
    return 'sent';
  }

  confirm(tag: number, multiple: boolean, ack: boolean): void {
    if (multiple) {
      // Map iteration follows insertion order, i.e. ascending delivery tags.
      for (const [t, p] of this.inFlight) {
        if (t > tag) break;
        this.inFlight.delete(t);
        this.settle(p, ack);
      }
    } else {
      const p = this.inFlight.get(tag);
      if (p) {
        this.inFlight.delete(tag);
        this.settle(p, ack);
      }
    }
  }

  /** False when no publish in flight has this message's id. */
  returned(m: Message): boolean {
    // amqplib#184: basic.return carries no delivery tag, so it is matched by message id. Returns
    // are rare, so a scan (oldest first) beats keeping an index by id for every publish.
    const id = m.properties.messageId as string | undefined;
    if (id === undefined) return false;
    for (const p of this.inFlight.values()) {
      if (!p.returned && p.job.msg.messageId === id) {
        p.returned = returnReason(m);
        return true;
      }
    }
    return false;
  }

  /** The channel closed with confirms outstanding: their fate is unknown, so the caller retries, except those over `maxSize`, the limit the close named (maxMessageSizeRefusal). */
  closed(cause: Error | undefined, maxSize: number | undefined): void {
    this.open = false;
    this.draining = false;
    for (const p of this.inFlight.values()) {
      const size = p.job.msg.body.length;
      if (p.returned) {
        // The broker already said it cannot route this: that answer stands without the ack.
        this.settled({ kind: 'returned', ...p.returned }, p.job);
      } else if (maxSize !== undefined && size > maxSize) {
        this.settled({ kind: 'failed', error: new UnpublishableError(`${size} bytes is over the broker's max_message_size ${maxSize}`, { cause }) }, p.job);
      } else {
        this.settled({ kind: 'failed', error: new LinkLostError(undefined, { cause }) }, p.job);
      }
    }
    this.inFlight.clear();
  }

  private settle(p: Pending, ack: boolean): void {
    if (p.returned) this.settled({ kind: 'returned', ...p.returned }, p.job);
    else this.settled(ack ? CONFIRMED : { kind: 'nacked' }, p.job);
  }
}
