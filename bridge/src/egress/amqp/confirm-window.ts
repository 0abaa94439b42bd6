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
import { publishFast, returnReason, type PublishOptions } from '../../adapters/amqplib.ts';

export interface PublishJob {
  msg: OutboundMessage;
  resolve: (r: PublishOutcome, msg: OutboundMessage) => void;
  /** Set by the window when the broker returned it; decides the outcome at the ack (or close). */
  returned?: { replyCode: number; replyText: string };
}

export type SendResult = 'sent' | 'closing' | { refused: Error };

const CONFIRMED: PublishOutcome = Object.freeze({ kind: 'confirmed' });

export class ConfirmWindow {
  open = true;
  /** publish() returned false: wait for 'drain' before writing again. */
  draining = false;
  /**
   * The publishes written and not yet settled, by delivery tag: jobs[i] has tag firstTag + i,
   * undefined once settled (a lone ack may skip ahead). A FIFO array, not a Map: one slot per
   * publish and no entry objects.
   */
  private jobs: (PublishJob | undefined)[] = [];
  private head = 0;
  private firstTag = 1;
  private unsettled = 0;
  /** publishFast reads it synchronously and keeps nothing: one object serves every send. */
  private readonly options: PublishOptions & { headers: OutboundMessage['headers'] } = {
    persistent: true,
    mandatory: true,
    messageId: '',
    timestamp: 0,
    contentType: 'application/msgpack',
    headers: {},
  };

  constructor(
    readonly ch: ConfirmChannel,
    private readonly exchange: string,
    /** Called once per publish written, as it settles. */
    private readonly settled: (outcome: PublishOutcome, job: PublishJob) => void,
  ) {}

  get size(): number {
    return this.unsettled;
  }

  /** Writes one persistent, mandatory publish. 'closing': nothing was written, hand the job to another channel. */
  send(job: PublishJob): SendResult {
    const { msg } = job;
    const o = this.options;
    o.messageId = msg.messageId;
    o.timestamp = Math.floor(msg.acceptedAt / 1000);
    o.contentType = msg.contentType;
    o.headers = msg.headers;
    let ok: boolean;
    try {
      ok = publishFast(this.ch, this.exchange, msg.routingKey, msg.body, o);
    } catch (err) {
      if (err instanceof IllegalOperationError) {
        this.open = false;
        return 'closing';
      }
      return { refused: new UnpublishableError(`amqplib refused the message: ${(err as Error).message}`, { cause: err }) };
    }
    this.jobs.push(job);
    this.unsettled++;
    if (!ok) this.draining = true;
    return 'sent';
  }

  /** Settles the publish `tag` (and every earlier one with `multiple`); returns how many it settled. */
  confirm(tag: number, multiple: boolean, ack: boolean): number {
    const jobs = this.jobs;
    let i = this.head + tag - this.firstTag;
    if (i < this.head) return 0;
    let settled = 0;
    if (multiple) {
      // Every tag up to this one, in tag order.
      i = Math.min(i, jobs.length - 1);
      for (let k = this.head; k <= i; k++) {
        const job = jobs[k];
        if (!job) continue;
        jobs[k] = undefined;
        this.settle(job, ack);
        settled++;
      }
      this.firstTag += i + 1 - this.head;
      this.head = i + 1;
    } else {
      const job = jobs[i];
      if (job === undefined) return 0;
      jobs[i] = undefined;
      this.settle(job, ack);
      settled = 1;
      while (this.head < jobs.length && jobs[this.head] === undefined) {
        this.head++;
        this.firstTag++;
      }
    }
    if (this.head === jobs.length) {
      this.jobs = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > jobs.length) {
      this.jobs = jobs.slice(this.head);
      this.head = 0;
    }
    return settled;
  }

  /** False when no publish in flight has this message's id. */
  returned(m: Message): boolean {
    // amqplib#184: basic.return carries no delivery tag, so it is matched by message id. Returns
    // are rare, so a scan (oldest first) beats keeping an index by id for every publish.
    const id = m.properties.messageId as string | undefined;
    if (id === undefined) return false;
    for (let k = this.head; k < this.jobs.length; k++) {
      const job = this.jobs[k];
      if (job && !job.returned && job.msg.messageId === id) {
        job.returned = returnReason(m);
        return true;
      }
    }
    return false;
  }

  /** The channel closed with confirms outstanding: their fate is unknown, so the caller retries, except those over `maxSize`, the limit the close named (maxMessageSizeRefusal). */
  closed(cause: Error | undefined, maxSize: number | undefined): void {
    this.open = false;
    this.draining = false;
    const jobs = this.jobs;
    const from = this.head;
    this.jobs = [];
    this.head = 0;
    this.unsettled = 0;
    for (let k = from; k < jobs.length; k++) {
      const job = jobs[k];
      if (!job) continue;
      const size = job.msg.body.length;
      if (job.returned) {
        // The broker already said it cannot route this: that answer stands without the ack.
        this.settled({ kind: 'returned', ...job.returned }, job);
      } else if (maxSize !== undefined && size > maxSize) {
        this.settled({ kind: 'failed', error: new UnpublishableError(`${size} bytes is over the broker's max_message_size ${maxSize}`, { cause }) }, job);
      } else {
        this.settled({ kind: 'failed', error: new LinkLostError(undefined, { cause }) }, job);
      }
    }
  }

  private settle(job: PublishJob, ack: boolean): void {
    this.unsettled--;
    if (job.returned) this.settled({ kind: 'returned', ...job.returned }, job);
    else this.settled(ack ? CONFIRMED : { kind: 'nacked' }, job);
  }
}
