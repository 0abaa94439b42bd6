// The firmware's edge_core (firmware/ports/wasm) driven from JavaScript: the same C
// batcher, outbox, MessagePack writer, scheduler and command parser as on the ESP32.
// No Node or DOM imports: the board page (bundled by esbuild) and wasm-node.ts both use
// it, each giving an MQTT connect function, a key/value store and the sensors.

/** What the core needs of an mqtt.js client (Node's `mqtt` package or the browser's mqtt.min.js). */
export interface MqttClientLike {
  connected: boolean;
  publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain: boolean }, cb: (err?: Error) => void): unknown;
  subscribe(topic: string, opts: { qos: 0 | 1 }, cb?: (err: Error | null) => void): unknown;
  on(event: 'connect' | 'close' | 'error', fn: () => void): unknown;
  on(event: 'message', fn: (topic: string, payload: Uint8Array) => void): unknown;
  end(force?: boolean, cb?: () => void): unknown;
}

export type MqttConnect = (opts: {
  clientId: string;
  will: { topic: string; payload: Uint8Array; qos: 1; retain: true };
}) => MqttClientLike;

/** Persistent u32 values (the NVS namespace "edge" on the ESP32). set returns false when not durable. */
export interface KvStore {
  get(key: string): number | undefined;
  set(key: string, value: number): boolean;
}

export interface WasmCoreOptions {
  device: string;
  prefix?: string;
  firmware?: string;
  sensors: string[];
  intervalMs?: number;
  batchSize?: number;
  batchMaxAgeMs?: number;
  mqttAckTimeoutMs?: number;
  statusPeriodMs?: number;
  /** A reading of sensor `index`; NaN: none this tick. */
  readSensor(index: number, name: string): number;
  kv: KvStore;
  connect: MqttConnect;
  /**
   * Fixed clock (edge-node --clock-start): wall and monotonic time start here (epoch ms) and
   * step to exactly each due time once that much real time passed. Unset: real clocks.
   */
  clockStartMs?: number;
  log?(level: 'error' | 'warn' | 'info' | 'debug', msg: string): void;
  /** The core asked for a restart (command "reboot"). */
  onReboot?(): void;
  /** A telemetry or status payload was handed to MQTT (a copy). */
  onPublish?(topic: string, payload: Uint8Array): void;
  /** The broker acknowledged a QoS 1 publish (PUBACK); `payload` is the copy that was sent. */
  onAcked?(topic: string, payload: Uint8Array): void;
  /** A command arrived on the cmd topic; `result` is the core's edge_err_t (0: applied). */
  onCommand?(payload: Uint8Array, result: number): void;
  /** Anything changed (connected, acked, settings): repaint. */
  onChange?(): void;
}

interface CoreExports {
  memory: WebAssembly.Memory;
  wasm_io_buf(): number;
  wasm_io_cap(): number;
  wasm_init(sensorCount: number, intervalMs: number, batchSize: number, batchMaxAgeMs: number, mqttAckTimeoutMs: number, statusPeriodMs: number): number;
  wasm_step(nowMs: bigint): void;
  wasm_next_due_ms(): bigint;
  wasm_on_connected(): void;
  wasm_on_disconnected(): void;
  wasm_on_puback(mid: number): void;
  wasm_on_deleted(mid: number): void;
  wasm_flush(): number;
  wasm_on_command(len: number): number;
  wasm_will(): number;
  wasm_cmd_topic(): number;
  wasm_boot(): number;
  wasm_next_seq(): number;
  wasm_interval_ms(): number;
  wasm_batch_size(): number;
  wasm_stats(): void;
  wasm_stat_outbox(): number;
  wasm_stat_acked(): number;
  wasm_stat_sent(): number;
  wasm_stat_dropped(): number;
  wasm_stat_cmd_applied(): number;
  wasm_stat_cmd_rejected(): number;
  wasm_stat_last_cmd(): number;
  wasm_stat_boot_committed(): number;
}

export interface CoreStats {
  boot: number;
  nextSeq: number;
  intervalMs: number;
  batchSize: number;
  outbox: number;
  acked: number;
  sent: number;
  dropped: number;
  cmdApplied: number;
  cmdRejected: number;
  lastCmd: number;
  bootCommitted: boolean;
  connected: boolean;
}

const EDGE_OK = 0;
const EDGE_ERR_HAL = 14;
const EDGE_ERR_NOT_FOUND = 15;
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** One edge_core node in one WebAssembly instance (its state is the module's static memory). */
export class WasmCore {
  private x!: CoreExports;
  private client: MqttClientLike | undefined;
  private up = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDue = -1n;
  private nextMid = 1;
  private stopped = false;
  private vclock = 0n;
  private anchor = 0;
  private cmdTopic = '';
  /** Link down (Wi-Fi off): no connection is made until it is restored. */
  private linkDown = false;
  /** MQTT sessions opened, the first one included. */
  connects = 0;

  private constructor(private readonly o: WasmCoreOptions) {
    this.realClock = o.clockStartMs === undefined;
  }

  /** Instantiates the module, runs edge_node_init and connects. */
  static async start(module: WebAssembly.Module, o: WasmCoreOptions): Promise<WasmCore> {
    const core = new WasmCore(o);
    const instance = await WebAssembly.instantiate(module, { env: core.imports() });
    core.x = instance.exports as unknown as CoreExports;
    core.vclock = BigInt(o.clockStartMs ?? 0);
    core.anchor = performance.now();
    core.init();
    core.connect();
    core.kick();
    return core;
  }

  private readonly realClock: boolean;

  private nowMs(): bigint {
    return this.realClock ? BigInt(Math.floor(performance.now())) : this.vclock;
  }

  private mem(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }

  private str(ptr: number): string {
    const m = this.mem();
    let end = ptr;
    while (m[end] !== 0) end++;
    return dec.decode(m.subarray(ptr, end));
  }

  private writeIo(bytes: Uint8Array): void {
    if (bytes.length > this.x.wasm_io_cap()) throw new Error(`${bytes.length} bytes exceed the core's io buffer`);
    this.mem().set(bytes, this.x.wasm_io_buf());
  }

  private imports(): Record<string, (...args: never[]) => unknown> {
    return {
      hal_monotonic_ms: () => this.nowMs(),
      hal_wall_clock_ms: () => (this.realClock ? BigInt(Date.now()) : this.vclock),
      hal_read_sensor: (index: number) => Math.fround(this.o.readSensor(index, this.o.sensors[index] ?? '')),
      hal_mqtt_connected: () => (this.up ? 1 : 0),
      hal_mqtt_publish: (topicPtr: number, payloadPtr: number, len: number, qos: number, retain: number) => this.publish(topicPtr, payloadPtr, len, qos, retain),
      hal_mqtt_subscribe: (topicPtr: number, qos: number) => {
        if (!this.client || !this.up) return 0;
        this.client.subscribe(this.str(topicPtr), { qos: qos ? 1 : 0 });
        return 1;
      },
      hal_kv_get: (keyPtr: number, outPtr: number) => {
        const v = this.o.kv.get(this.str(keyPtr));
        if (v === undefined) return EDGE_ERR_NOT_FOUND;
        new DataView(this.x.memory.buffer).setUint32(outPtr, v >>> 0, true);
        return EDGE_OK;
      },
      hal_kv_set: (keyPtr: number, value: number) => (this.o.kv.set(this.str(keyPtr), value >>> 0) ? EDGE_OK : EDGE_ERR_HAL),
      hal_random: () => (Math.random() * 0x1_0000_0000) >>> 0,
      hal_log: (level: number, msgPtr: number) => this.o.log?.(LEVELS[level] ?? 'debug', this.str(msgPtr)),
      hal_rssi: () => (this.up ? -55 : 0),
      hal_reboot: () => this.o.onReboot?.(),
    };
  }

  private init(): void {
    const o = this.o;
    const strings = [o.device, o.prefix ?? 'factory/floor1', o.firmware ?? '1.0.0-wasm', ...o.sensors];
    const parts = strings.map((s) => enc.encode(`${s}\0`));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    this.writeIo(all);
    const err = this.x.wasm_init(o.sensors.length, o.intervalMs ?? 0, o.batchSize ?? 0, o.batchMaxAgeMs ?? 0, o.mqttAckTimeoutMs ?? 0, o.statusPeriodMs ?? 0);
    // EDGE_ERR_HAL: boot counter not committed; the core runs and retries it.
    if (err !== EDGE_OK && err !== EDGE_ERR_HAL) throw new Error(`edge_node_init failed (edge_err_t ${err}): check device id, prefix, firmware and sensors`);
    if (this.x.wasm_cmd_topic() !== EDGE_OK) throw new Error('no cmd topic');
    this.cmdTopic = this.str(this.x.wasm_io_buf());
  }

  private publish(topicPtr: number, payloadPtr: number, len: number, qos: number, retain: number): number {
    const c = this.client;
    if (!c || !this.up) return -1;
    const topic = this.str(topicPtr);
    // A copy: the core reuses its tx buffer, and mqtt.js may write later.
    const payload = this.mem().slice(payloadPtr, payloadPtr + len);
    const mid = this.nextMid;
    this.nextMid = this.nextMid >= 0x7fff_ffff ? 1 : this.nextMid + 1;
    c.publish(topic, payload, { qos: qos ? 1 : 0, retain: retain !== 0 }, (err) => {
      if (this.stopped || qos === 0) return;
      // mqtt.js failed it (e.g. the connection closed while replaying): the core sends it again under a new id.
      if (err) this.x.wasm_on_deleted(mid);
      else {
        this.x.wasm_on_puback(mid);
        this.o.onAcked?.(topic, payload);
      }
      this.kick();
    });
    this.o.onPublish?.(topic, payload);
    return mid;
  }

  private connect(): void {
    if (this.stopped || this.linkDown) return;
    const willLen = this.x.wasm_will();
    const io = this.x.wasm_io_buf();
    const will = willLen >= 0 ? { topic: this.str(io), payload: this.mem().slice(io + 256, io + 256 + willLen), qos: 1 as const, retain: true as const } : undefined;
    if (!will) throw new Error('no last will');
    const client = this.o.connect({ clientId: this.o.device, will });
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.up = true;
      this.connects++;
      this.x.wasm_on_connected();
      this.kick();
    });
    client.on('close', () => {
      if (this.client !== client || !this.up) return;
      this.up = false;
      this.x.wasm_on_disconnected();
      this.kick();
    });
    client.on('error', () => {
      // mqtt.js reconnects by itself.
    });
    client.on('message', (topic: string, payload: Uint8Array) => {
      if (this.client !== client || topic !== this.cmdTopic) return;
      this.writeIo(payload.subarray(0, this.x.wasm_io_cap()));
      const r = this.x.wasm_on_command(payload.length);
      this.o.onCommand?.(payload, r);
      this.kick();
    });
  }

  /** Steps the core now and sleeps until its next due time. */
  private kick(): void {
    if (this.stopped) return;
    this.advanceVirtualClock();
    const now = this.nowMs();
    this.x.wasm_step(now);
    this.o.onChange?.();
    const due = this.x.wasm_next_due_ms();
    // An event (a PUBACK) that leaves the due time as it was keeps the armed timer: timers are most of a node's cost.
    if (this.timer !== undefined && due === this.timerDue) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    let wait = due > now ? Number(due - now) : 0;
    if (!this.realClock && wait > 0) wait = Math.max(0, wait - (performance.now() - this.anchor));
    // Capped, so a far-off due time (nothing to do offline) still repaints now and then.
    this.timer = setTimeout(this.onTimer, Math.min(Math.ceil(wait), 1000));
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    this.kick();
  };

  /** The same rule as edge-node's --clock-start loop (firmware/ports/posix/main.c). */
  private advanceVirtualClock(): void {
    if (this.realClock) return;
    const due = this.x.wasm_next_due_ms();
    const real = performance.now();
    if (due > this.vclock && real - this.anchor >= Number(due - this.vclock)) {
      this.anchor += Number(due - this.vclock);
      this.vclock = due;
    }
  }

  /** Closes the open batch now (the board's button). */
  flush(): boolean {
    const closed = this.x.wasm_flush() !== 0;
    this.kick();
    return closed;
  }

  /** Wi-Fi off: the connection drops and none is made until it is back; the outbox keeps sampling. */
  setLink(up: boolean): void {
    if (up === !this.linkDown) return;
    this.linkDown = !up;
    if (!up) {
      const c = this.client;
      this.client = undefined;
      if (this.up) {
        this.up = false;
        this.x.wasm_on_disconnected();
      }
      c?.end(true);
    } else {
      this.connect();
    }
    this.kick();
  }

  get linkUp(): boolean {
    return !this.linkDown;
  }

  get connected(): boolean {
    return this.up;
  }

  stats(): CoreStats {
    const x = this.x;
    x.wasm_stats();
    return {
      boot: x.wasm_boot(), nextSeq: x.wasm_next_seq(), intervalMs: x.wasm_interval_ms(), batchSize: x.wasm_batch_size(),
      outbox: x.wasm_stat_outbox(), acked: x.wasm_stat_acked(), sent: x.wasm_stat_sent(), dropped: x.wasm_stat_dropped(),
      cmdApplied: x.wasm_stat_cmd_applied(), cmdRejected: x.wasm_stat_cmd_rejected(), lastCmd: x.wasm_stat_last_cmd(),
      bootCommitted: x.wasm_stat_boot_committed() !== 0, connected: this.up,
    };
  }

  /** Stops stepping and closes the connection (force: without waiting for in-flight PUBACKs). */
  async stop(force = false): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    this.up = false;
    if (c) await new Promise<void>((resolve) => c.end(force, () => resolve()));
  }
}
