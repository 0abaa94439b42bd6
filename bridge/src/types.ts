// The small interfaces between the pipeline stages:
//   ingress -> codec -> routing -> store -> egress (+ downlink back).
// Each stage imports only from here and from upstream stages; compose.ts wires them.

/** What a device message is: a batch of readings, or a status (PROTOCOL.md sections 3 and 5). */
export type MessageKind = 'telemetry' | 'status';

/** One message as an ingress transport received it, before decoding. */
export interface RawMessage {
  transport: 'mqtt' | 'serial';
  /** The topic the routing rules see: the MQTT topic, or `<topicPrefix>/<device>/<kind>` for serial. */
  topic: string;
  payload: Buffer;
  /** Client id or port path, for logs and per-connection limits. */
  source: string;
  receivedAt: number;
  /**
   * The device this message may speak for, as the ingress verified it: the login, the topic's
   * device level, or a serial port's declared device. Empty when no device may send it (an
   * undeclared serial device). The payload's own device field must equal it.
   */
  identity: string;
  kind: MessageKind;
  /** Set when the ingress already knows the message is unusable (e.g. oversized): quarantined undecoded. */
  refused?: { reason: string; detail: string };
  /** A telemetry payload the ingress already decoded (serial reads the device id from it): not decoded again. */
  decoded?: DecodedBatch;
}

/** decodeBatch's result with what it learnt of the payload's form (codec BatchForm). */
export interface DecodedBatch {
  result: DecodeResult<Batch>;
  canonical?: boolean;
  readingCount?: number;
}

export interface Reading {
  sensor: string;
  offset: number;
  value: number;
}

/** A decoded, validated batch (PROTOCOL.md section 3). */
export interface Batch {
  v: 1;
  device: string;
  boot: number;
  seq: number;
  fw: string;
  /** Base time, ms (epoch when !unsynced, else since boot). */
  ts: number;
  unsynced: boolean;
  readings: Reading[];
}

/** Error codes shared with the vectors (`error` fields in shared/protocol/vectors). */
export type DecodeErrorCode =
  | 'malformed'
  | 'not_a_map'
  | 'unsupported_version'
  | 'missing_field'
  | 'bad_field'
  | 'too_large';

export type DecodeResult<T> =
  | { ok: true; value: T }
  | { ok: false; error: DecodeErrorCode; detail: string };

/** A message ready for AMQP: the routing result for one batch (or one part of it). */
export interface OutboundMessage {
  routingKey: string;
  messageId: string;
  /** Device id: replay is ordered per device. */
  device: string;
  contentType: 'application/msgpack' | 'application/json';
  headers: Record<string, string | number>;
  body: Buffer;
  /** When the bridge accepted the batch, ms since epoch. */
  acceptedAt: number;
}

/** A record as the store holds it: an outbound message plus its store identity. */
export interface StoredRecord extends OutboundMessage {
  /** Monotonic, unique within one store directory, never reused. */
  id: number;
  /** Bytes the record takes on disk (for bounds and metrics). */
  size: number;
}

/** What ingress tells its sender, once the pipeline has decided. */
export type IngestOutcome =
  /** Durably stored: acknowledge (PUBACK / ack frame 0x00). */
  | { kind: 'stored' }
  /** Malformed and quarantined: acknowledge too, resending cannot help (ack frame 0x01). */
  | { kind: 'rejected'; reason: string }
  /** Not stored (store full, or closing): withhold the ack so the sender retries (ack frame 0x02). */
  | { kind: 'busy'; reason: string };

export type IngestHandler = (msg: RawMessage) => Promise<IngestOutcome>;

/** Every ingress transport implements this; one file per transport under ingress/. */
export interface Ingress {
  readonly name: string;
  start(handler: IngestHandler): Promise<void>;
  /** Stop accepting; in-flight handler calls are allowed to finish. */
  stop(): Promise<void>;
  /** Downlink: deliver a command payload to a device if it is connected here. Resolves true when handed over. */
  sendCommand?(device: string, topicPrefix: string | undefined, payload: Buffer, cmdId: number): Promise<boolean>;
}

/** The broker's answer to one publish, as the egress reports it to the forwarder. */
export type PublishOutcome =
  | { kind: 'confirmed' }
  | { kind: 'returned'; replyCode: number; replyText: string }
  | { kind: 'nacked' }
  | { kind: 'failed'; error: Error };
