// Errors ranked by what the caller must do with the message, not by where they came from.
//   retry: the message is fine, the link was not; keep it and publish again later.
//   park:  resending cannot help (unroutable, unencodable); move it aside for a human.
//   fatal: configuration is wrong; retrying without a change only repeats the failure.
export type ErrorAction = 'retry' | 'park' | 'fatal';

export class EgressError extends Error {
  constructor(
    message: string,
    readonly action: ErrorAction,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EgressError';
  }
}

/** The channel or connection died before the broker confirmed: the outcome is unknown, publish again. */
export class LinkLostError extends EgressError {
  constructor(message = 'channel closed before the confirm arrived', options?: { cause?: unknown }) {
    super(message, 'retry', options);
    this.name = 'LinkLostError';
  }
}

/** publish() after close() began. The record stays in the store; a later run publishes it. */
export class PoolClosedError extends EgressError {
  constructor() {
    super('confirm pool is closed', 'retry');
    this.name = 'PoolClosedError';
  }
}

/** amqplib refused to encode the message (e.g. headers table over 64 KiB): the same bytes will always fail. */
export class UnpublishableError extends EgressError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'park', options);
    this.name = 'UnpublishableError';
  }
}

/** The broker refused our topology (e.g. PRECONDITION_FAILED on inequivalent arguments). */
export class TopologyError extends EgressError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'fatal', options);
    this.name = 'TopologyError';
  }
}

/**
 * RabbitMQ answers a publish over max_message_size by closing the channel with 406
 * "message size N is larger than configured max size M" (rabbit_channel, 3.8 to 3.13):
 * every publish in flight on it fails. M tells which of them can never pass.
 */
export function maxMessageSizeRefusal(channelError: (Error & { code?: number }) | undefined): number | undefined {
  if (channelError?.code !== 406) return undefined;
  const m = /message size \d+ is larger than configured max size (\d+)/.exec(channelError.message);
  return m ? Number(m[1]) : undefined;
}

/** What the caller does with a publish outcome: 'done' for a confirm, else an ErrorAction. */
export function actionFor(
  result: { kind: 'confirmed' } | { kind: 'returned' } | { kind: 'nacked' } | { kind: 'failed'; error: Error },
): 'done' | ErrorAction {
  switch (result.kind) {
    case 'confirmed':
      return 'done';
    case 'returned':
      return 'park';
    case 'nacked':
      return 'retry';
    case 'failed':
      return result.error instanceof EgressError ? result.error.action : 'retry';
  }
}
