// The ingest path and the bridge's lifecycle:
//   ingress -> codec -> routing -> store -> forwarder -> AMQP egress
// Pipeline.handle decides what each sender is told (IngestOutcome); compose.ts builds
// the parts and hands them in.
//
// The promise: `stored` (PUBACK / ack frame) is returned only after store.append()
// resolved, and append resolves only after fsync. A message whose payload speaks for
// another device than the ingress verified is never stored: message ids and headers
// come from that verified identity.
import type { Logger } from 'pino';
import type { Ingress, IngestOutcome, RawMessage } from './types.ts';
import { decodeBatch, decodeStatus, type BatchForm } from './codec/index.ts';
import type { Router } from './routing/index.ts';
import { StoreFullError, type StoreAndForward } from './store/index.ts';
import type { Quarantine } from './quarantine/quarantine.ts';
import type { Counters } from './observe/counters.ts';
import type { DeviceRegistry } from './observe/devices.ts';
import { BurstLog } from './observe/burst-log.ts';

/** Something started after the store and stopped before it (egress, queue health, downlink). */
export interface Service {
  start(): Promise<void> | void;
  stop(): Promise<void>;
}

export interface PipelineParts {
  store: StoreAndForward;
  quarantine: Quarantine;
  router: Router;
  counters: Counters;
  devices: DeviceRegistry;
  /** Told of each seq gap a stored batch reveals (batches missing before it). */
  onSeqGap?(device: string, missing: number): void;
  /** Told of every accepted status: a matching `cmd` confirms a command (downlink). */
  onStatus?(device: string, cmd: number, online: boolean): void;
  /** Started in this order after the store, before the ingresses; stopped in reverse after them. */
  services: Service[];
  ingresses: Ingress[];
}

/** The answer to nearly every message: one frozen object rather than one per message. */
const STORED: IngestOutcome = Object.freeze({ kind: 'stored' });

export class Pipeline {
  private stopping = false;
  private writable = true;
  /** decodeBatch's out-parameter, read before the first await: one object serves every message. */
  private readonly batchForm: BatchForm = { lazyReadings: true };
  /** Quarantined input is logged once per burst, with the last entry as an example. */
  private lastRejected: Record<string, string> = {};
  private readonly rejectedLog = new BurstLog(({ counts, sinceMs }) => this.log.warn({ counts, sinceMs, last: this.lastRejected }, 'payloads quarantined'));

  constructor(
    private readonly parts: PipelineParts,
    private readonly log: Logger,
  ) {}

  /** False after a store write failed, until one succeeds again. */
  get storeWritable(): boolean {
    return this.writable;
  }

  /**
   * The handler every ingress calls. Never throws: every failure becomes an outcome. Not an
   * async function: a batch costs one reaction to the store's promise instead of an async
   * frame (one per message).
   */
  readonly handle = (msg: RawMessage): Promise<IngestOutcome> => {
    try {
      return this.ingest(msg);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  private ingest(msg: RawMessage): Promise<IngestOutcome> {
    const { counters, router, store } = this.parts;
    const readAt = performance.now();
    const ingress = counters.ingress[msg.transport];
    ingress.messages++;
    ingress.bytes += msg.payload.length;
    if (this.stopping) return Promise.resolve({ kind: 'busy', reason: 'bridge is stopping' });
    if (msg.refused) return this.reject(msg, msg.refused.reason, msg.refused.detail);
    if (msg.kind === 'status') return this.handleStatus(msg);

    let form: BatchForm = this.batchForm;
    let decoded;
    if (msg.decoded) {
      decoded = msg.decoded.result;
      form = msg.decoded;
    } else {
      decoded = decodeBatch(msg.payload, form);
    }
    if (!decoded.ok) return this.reject(msg, decoded.error, decoded.detail);
    const batch = decoded.value;
    if (batch.device !== msg.identity) return this.rejectImpostor(msg, batch.device);
    const readingCount = form.readingCount ?? batch.readings.length;

    // The decoder already knows whether the payload can be forwarded as it is.
    const routed = router.route(msg, batch, form.canonical);
    if (!routed.ok) return this.reject(msg, routed.reason, routed.detail);

    let appended: Promise<unknown>;
    try {
      appended = store.append(routed.messages);
    } catch (err) {
      appended = Promise.reject(err);
    }
    return appended.then(
      () => {
        this.writable = true;
        counters.acceptToDurable.observe((performance.now() - readAt) / 1000);
        const missing = this.parts.devices.onBatch(batch.device, batch.boot, batch.seq, readingCount);
        if (missing > 0) this.parts.onSeqGap?.(batch.device, missing);
        counters.readings += readingCount;
        counters.batches++;
        return STORED;
      },
      (err: unknown): IngestOutcome => {
        counters.busy[msg.transport]++;
        if (err instanceof StoreFullError) return { kind: 'busy', reason: 'store full' };
        this.writable = false;
        this.log.error({ err, topic: msg.topic }, 'store append failed; not acknowledging');
        return { kind: 'busy', reason: (err as Error).message };
      },
    );
  }

  private async handleStatus(msg: RawMessage): Promise<IngestOutcome> {
    const decoded = decodeStatus(msg.payload);
    if (!decoded.ok) return this.reject(msg, decoded.error, decoded.detail);
    const s = decoded.value;
    if (s.d !== msg.identity) return this.rejectImpostor(msg, s.d);
    this.parts.devices.onStatus(s.d, { online: s.st === 'online', boot: s.b, drop: s.drop, iv: s.iv, bs: s.bs, cmd: s.cmd });
    this.parts.onStatus?.(s.d, s.cmd ?? 0, s.st === 'online');
    return STORED;
  }

  /** A payload that names another device than the one the ingress verified: kept aside, acknowledged. */
  private rejectImpostor(msg: RawMessage, claimed: string): Promise<IngestOutcome> {
    if (msg.identity) this.parts.devices.onIdentityMismatch(msg.identity);
    const who = msg.identity ? `'${msg.identity}'` : `none (no device '${claimed}' declared on ${msg.source})`;
    return this.reject(msg, 'identity_mismatch', `payload says device '${claimed}', the connection's identity is ${who}`);
  }

  /**
   * Quarantines the message and answers 'rejected' (acknowledged: resending cannot fix it) once
   * the entry is written, or at once when the quarantine queue is full (counted as dropped). A
   * failed write answers 'busy': the sender keeps it.
   */
  private async reject(msg: RawMessage, reason: string, detail: string): Promise<IngestOutcome> {
    const { counters, quarantine } = this.parts;
    counters.rejected.add(reason);
    this.lastRejected = { reason, detail, topic: msg.topic, source: msg.source, identity: msg.identity };
    this.rejectedLog.count(reason);
    try {
      const kept = await quarantine.put({ reason, detail, topic: msg.topic, source: msg.source, identity: msg.identity, payload: msg.payload });
      if (!kept) counters.quarantineDropped++;
    } catch (err) {
      this.log.error({ err }, 'quarantine write failed; not acknowledging');
      return { kind: 'busy', reason: 'quarantine unavailable' };
    }
    return { kind: 'rejected', reason: `${reason}: ${detail}` };
  }

  /** Store, quarantine, services, then the ingresses: nothing is accepted before it can be kept. */
  async start(): Promise<void> {
    const { store, quarantine, services, ingresses } = this.parts;
    const report = await store.open();
    this.log.info({ report }, 'store opened');
    await quarantine.open();
    for (const service of services) await service.start();
    for (const ingress of ingresses) {
      await ingress.start(this.handle);
      this.log.info({ ingress: ingress.name }, 'ingress started');
    }
  }

  /** Graceful stop: no new input, finish in-flight work, close the store. */
  async stop(): Promise<void> {
    this.stopping = true;
    const { store, quarantine, services, ingresses } = this.parts;
    for (const ingress of ingresses) await ingress.stop().catch((err) => this.log.error({ err }, 'ingress stop failed'));
    for (const service of [...services].reverse()) await service.stop().catch((err: unknown) => this.log.error({ err }, 'service stop failed'));
    await store.close();
    this.rejectedLog.flush();
    await quarantine.close();
  }
}
