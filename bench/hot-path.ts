// Hot-path micro benchmark: ns per message for each stage one MQTT batch goes
// through (decode, route, frame encode/decode, store append..confirm on a no-op
// file system, the whole Pipeline.handle). Not a test and not part of `npm run bench`:
//   node --import tsx bench/hot-path.ts [messages]     (add --cpu-prof to profile)
// Stages take their modules as an argument, so a throwaway script can run an older
// copy of bridge/src beside this one in the same process and compare.
import type { OutboundMessage, RawMessage, StoredRecord } from '../bridge/src/types.ts';
import type { PublishOutcome } from '../bridge/src/types.ts';
import type { StoreIo } from '../bridge/src/store/io.ts';
import { batchPayload } from './load/payload.ts';

export interface HotPathModules {
  codec: typeof import('../bridge/src/codec/index.ts');
  routing: typeof import('../bridge/src/routing/index.ts');
  format: typeof import('../bridge/src/store/format.ts');
  segmentLog: typeof import('../bridge/src/store/segment-log.ts');
  pipeline: typeof import('../bridge/src/pipeline.ts');
  counters: typeof import('../bridge/src/observe/counters.ts');
  quarantine: typeof import('../bridge/src/quarantine/quarantine.ts');
  devices: typeof import('../bridge/src/observe/devices.ts');
  forwarder: typeof import('../bridge/src/forwarder.ts');
}

export async function loadModules(srcRoot: string): Promise<HotPathModules> {
  const at = (p: string) => import(new URL(p, srcRoot).href);
  return {
    codec: await at('codec/index.ts'),
    routing: await at('routing/index.ts'),
    format: await at('store/format.ts'),
    segmentLog: await at('store/segment-log.ts'),
    pipeline: await at('pipeline.ts'),
    counters: await at('observe/counters.ts'),
    quarantine: await at('quarantine/quarantine.ts'),
    devices: await at('observe/devices.ts'),
    forwarder: await at('forwarder.ts'),
  };
}

/** A file system that accepts everything at once: the store's own CPU cost, no disk. */
export function nullIo(): StoreIo {
  let fd = 100;
  return {
    open: async () => fd++,
    close: async () => {},
    write: async () => {},
    read: async (_fd, length) => Buffer.alloc(length),
    fdatasync: async () => {},
    fsyncDir: async () => {},
    ftruncate: async () => {},
    unlink: async () => {},
    rename: async () => {},
    readdir: async () => [],
    size: async () => undefined,
    mkdirp: async () => {},
  };
}

const DEVICES = 50;
const RULES = [{ filter: '+/+/+/telemetry', key: 'telemetry.{device}', split: 'none' as const }];

export function messages(n: number): RawMessage[] {
  const out: RawMessage[] = [];
  for (let i = 0; i < n; i++) {
    const device = `embedded-${i % DEVICES}`;
    out.push({ transport: 'mqtt', topic: `bench/floor1/${device}/telemetry`, payload: batchPayload(device, i), source: device, receivedAt: Date.now(), identity: device, kind: 'telemetry' });
  }
  return out;
}

export type Stage = (msgs: RawMessage[]) => Promise<void> | void;

/** A store that hands out a fixed list once: the forwarder's own cost, no store. */
class ListStore {
  private next = 0;
  private confirmed = 0;
  constructor(
    private readonly records: StoredRecord[],
    private readonly done: () => void,
  ) {}
  take(max: number): StoredRecord[] {
    const out = this.records.slice(this.next, this.next + max);
    this.next += out.length;
    return out;
  }
  confirm(ids: number[]): void {
    this.confirmed += ids.length;
    if (this.confirmed === this.records.length) this.done();
  }
  release(): void {}
  waitForPending(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }
}

/** A broker that confirms everything published in one turn of the event loop, as one batch of acks does. */
function instantBroker() {
  const confirmed: PublishOutcome = { kind: 'confirmed' };
  let waiting: { msg: OutboundMessage; done: (res: PublishOutcome, msg: OutboundMessage) => void }[] = [];
  const flush = () => {
    const now = waiting;
    waiting = [];
    for (const w of now) w.done(confirmed, w.msg);
  };
  const broker = {
    publishWith<M extends OutboundMessage>(msg: M, done: (res: PublishOutcome, msg: M) => void): void {
      if (waiting.push({ msg, done: done as (res: PublishOutcome, msg: OutboundMessage) => void }) === 1) setImmediate(flush);
    },
    publish(msg: OutboundMessage): Promise<PublishOutcome> {
      return new Promise((resolve) => broker.publishWith(msg, resolve));
    },
  };
  return broker;
}

/** Each stage runs over every message once; the caller times it. */
export function makeStages(m: HotPathModules): Record<string, Stage> {
  const router = new m.routing.Router(RULES as never, { contentType: 'application/msgpack' });
  let sink = 0;
  const routed = (msgs: RawMessage[]): OutboundMessage[] =>
    msgs.map((msg) => {
      const form: { canonical?: boolean } = {};
      const d = (m.codec.decodeBatch as (p: Buffer, f: unknown) => ReturnType<typeof m.codec.decodeBatch>)(msg.payload, form);
      if (!d.ok) throw new Error(d.detail);
      const r = (router.route as (...a: unknown[]) => ReturnType<typeof router.route>)(msg, d.value, form.canonical);
      if (!r.ok) throw new Error(r.detail);
      return r.messages[0]!;
    });
  let outbound: OutboundMessage[] | undefined;
  let frames: Buffer[] | undefined;
  return {
    decode(msgs) {
      for (const msg of msgs) {
        const d = m.codec.decodeBatch(msg.payload);
        if (d.ok) sink += d.value.readings.length;
      }
    },
    'decode+route'(msgs) {
      outbound = routed(msgs);
      sink += outbound.length;
    },
    encodeRecord(msgs) {
      outbound ??= routed(msgs);
      frames = outbound.map((o, i) => m.format.encodeRecord(i + 1, o));
    },
    decodeRecord(msgs) {
      outbound ??= routed(msgs);
      frames ??= outbound.map((o, i) => m.format.encodeRecord(i + 1, o));
      for (const f of frames) sink += m.format.decodeRecord(f).body.length;
    },
    async 'store append..confirm'(msgs) {
      outbound ??= routed(msgs);
      const store = new m.segmentLog.SegmentLogStore({ dir: '/nonexistent', io: nullIo(), maxBytes: 1 << 30, maxRecords: 1 << 24, overflow: 'reject' });
      await store.open();
      // 64 appenders at a time, as a busy broker hands them over, then drain like the forwarder.
      for (let i = 0; i < outbound.length; i += 64) {
        await Promise.all(outbound.slice(i, i + 64).map((o) => store.append([o])));
        const recs = await store.take(1000);
        store.confirm(recs.map((r) => r.id));
      }
      await store.close();
    },
    async 'forwarder (instant broker)'(msgs) {
      outbound ??= routed(msgs);
      const records = outbound.map((o, i): StoredRecord => ({ ...o, id: i + 1, size: o.body.length }));
      const counters = new m.counters.Counters();
      let finished!: () => void;
      const done = new Promise<void>((r) => (finished = r));
      const fwd = new m.forwarder.Forwarder(new ListStore(records, finished), instantBroker(), { maxInFlight: 1000, retry: { initialMs: 100, maxMs: 1000 } }, {
        // What the bridge's hook does per confirm (compose.ts).
        onConfirmed: (rec, publishMs) => {
          counters.published.confirmed++;
          counters.confirmLatency.observe(publishMs / 1000);
          counters.acceptToConfirm.observe((Date.now() - rec.acceptedAt) / 1000);
        },
      });
      fwd.start();
      await done;
      await fwd.stop();
    },
    async 'Pipeline.handle'(msgs) {
      const store = new m.segmentLog.SegmentLogStore({ dir: '/nonexistent', io: nullIo(), maxBytes: 1 << 30, maxRecords: 1 << 24, overflow: 'reject' });
      await store.open();
      const devices = new m.devices.DeviceRegistry();
      const quarantine = new m.quarantine.Quarantine('/nonexistent', 1 << 20);
      const p = new m.pipeline.Pipeline({ store, router, devices, counters: new m.counters.Counters(), quarantine, services: [], ingresses: [] }, undefined as never);
      for (let i = 0; i < msgs.length; i += 64) {
        const outcomes = await Promise.all(msgs.slice(i, i + 64).map((msg) => p.handle(msg)));
        if (outcomes[0]!.kind !== 'stored') throw new Error(JSON.stringify(outcomes[0]));
        const recs = await store.take(1000);
        store.confirm(recs.map((r) => r.id));
      }
      await store.close();
    },
    sink: () => void (sink = sink | 0),
  };
}

/**
 * Median CPU ns per message (user + system of the whole process, so GC threads
 * count) of `rounds` runs of one stage. CPU time rather than wall time: on a
 * shared box the wall clock mostly measures the neighbours.
 */
export async function timeStage(stage: Stage, msgs: RawMessage[], rounds: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    await stage(msgs);
    const t = process.cpuUsage(t0);
    times.push(((t.user + t.system) * 1000) / msgs.length);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20_000);
  const m = await loadModules(new URL('../bridge/src/', import.meta.url).href);
  const msgs = messages(n);
  const stages = makeStages(m);
  for (const [name, stage] of Object.entries(stages)) {
    if (name === 'sink') continue;
    await timeStage(stage, msgs, 3); // warm-up
    const ns = await timeStage(stage, msgs, 7);
    console.log(`${name.padEnd(24)} ${ns.toFixed(0).padStart(7)} ns/msg`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
