// A seeded byte-level fault proxy for serial links. It sits between two pty pairs:
//
//   node <-> [pair N: a | b] <-> proxy <-> [pair B: a | b] <-> bridge
//
// and relays bytes both ways, frame by frame (a "frame" here is everything up to
// and including a 0x00 delimiter of the original stream). With probability
// `faultRate` a frame gets one fault: a flipped bit, a dropped byte, or a few
// noise bytes inserted. Decisions come from a PRNG seeded per direction, one draw
// sequence per frame, so a seed gives the same faults whatever the OS chunking.
// Every touched frame is logged with its position and, if it decodes, its seq.
import { SerialPort } from 'serialport';
import { cobsDecode, parseRawFrame } from '../../src/codec/index.ts';

export type FaultKind = 'flip' | 'drop' | 'noise';
export type Direction = 'toBridge' | 'toNode';

export interface TouchedFrame {
  direction: Direction;
  /** Index of the frame in its direction's stream, from 0. */
  position: number;
  /** The seq of the original frame, when it was a valid frame. */
  seq: number | undefined;
  fault: FaultKind;
  /** The delimiter itself was hit: this frame and the next one reach the receiver merged. */
  delimiterDamaged: boolean;
}

/** Every frame relayed, touched or not, with what it was before any fault. */
export interface RelayedFrame {
  direction: Direction;
  position: number;
  /** seq and frame type of the original frame, when it was a valid frame. */
  seq: number | undefined;
  type: number | undefined;
  touched: boolean;
}

export interface ByteProxyOptions {
  seed: number;
  /** Probability that a frame is damaged, 0..1, both directions (see setFaultRate). */
  faultRate: number;
  faults?: FaultKind[];
}

export interface ByteProxy {
  readonly touched: TouchedFrame[];
  readonly relayed: RelayedFrame[];
  /** Frames (delimiters) relayed per direction. */
  readonly frames: Record<Direction, number>;
  /** Bytes written out per direction, after faults. */
  readonly bytesOut: Record<Direction, number>;
  /** Changes the fault rate of one direction (or both), e.g. 0 to send a clean trailing delimiter. */
  setFaultRate(rate: number, direction?: Direction): void;
  close(): Promise<void>;
}

/** mulberry32: tiny, fast, good enough for test faults. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function frameOf(frameWithDelimiter: Buffer): { seq: number; type: number } | undefined {
  const decoded = cobsDecode(frameWithDelimiter, 0, frameWithDelimiter.length - 1);
  if (!decoded.ok) return undefined;
  const parsed = parseRawFrame(decoded.value);
  return parsed.ok ? { seq: parsed.frame.seq, type: parsed.frame.type } : undefined;
}

function seqOf(frameWithDelimiter: Buffer): number | undefined {
  return frameOf(frameWithDelimiter)?.seq;
}

/** One direction: cuts the stream at delimiters, damages some frames, writes them on. */
class FaultyRelay {
  private partial: Buffer[] = [];
  private readonly random: () => number;

  constructor(
    private readonly direction: Direction,
    seed: number,
    private readonly proxy: { faultRate: Record<Direction, number>; faults: FaultKind[]; touched: TouchedFrame[]; relayed: RelayedFrame[]; frames: Record<Direction, number>; bytesOut: Record<Direction, number> },
    private readonly out: SerialPort,
  ) {
    this.random = seededRandom(seed);
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const delimiter = chunk.indexOf(0x00, start);
      if (delimiter === -1) {
        if (start < chunk.length) this.partial.push(chunk.subarray(start));
        return;
      }
      this.partial.push(chunk.subarray(start, delimiter + 1));
      this.relay(Buffer.concat(this.partial));
      this.partial = [];
      start = delimiter + 1;
    }
  }

  private relay(frame: Buffer): void {
    const position = this.proxy.frames[this.direction]++;
    const touched = this.random() < this.proxy.faultRate[this.direction];
    const damaged = touched ? this.damage(frame, position) : frame;
    const original = frameOf(frame);
    this.proxy.relayed.push({ direction: this.direction, position, seq: original?.seq, type: original?.type, touched });
    this.proxy.bytesOut[this.direction] += damaged.length;
    this.out.write(damaged);
  }

  private pick(n: number): number {
    return Math.floor(this.random() * n);
  }

  private damage(frame: Buffer, position: number): Buffer {
    const fault = this.proxy.faults[this.pick(this.proxy.faults.length)]!;
    const last = frame.length - 1;
    let result: Buffer;
    let delimiterDamaged = false;
    if (fault === 'flip') {
      const at = this.pick(frame.length);
      result = Buffer.from(frame);
      result[at]! ^= 1 << this.pick(8);
      delimiterDamaged = at === last;
    } else if (fault === 'drop') {
      const at = this.pick(frame.length);
      result = Buffer.concat([frame.subarray(0, at), frame.subarray(at + 1)]);
      delimiterDamaged = at === last;
    } else {
      // Noise goes anywhere before the delimiter (at 0 it is garbage between frames); it may hold zeros.
      const at = this.pick(frame.length);
      const noise = Buffer.from(Array.from({ length: 1 + this.pick(8) }, () => this.pick(256)));
      result = Buffer.concat([frame.subarray(0, at), noise, frame.subarray(at)]);
    }
    this.proxy.touched.push({ direction: this.direction, position, seq: seqOf(frame), fault, delimiterDamaged });
    return result;
  }
}

function openPort(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    port.open((err) => (err ? reject(err) : resolve(port)));
  });
}

/** nodeSide: the pty end facing the node; bridgeSide: the pty end facing the bridge. */
export async function startByteProxy(nodeSide: string, bridgeSide: string, options: ByteProxyOptions): Promise<ByteProxy> {
  const [toNodePort, toBridgePort] = await Promise.all([openPort(nodeSide), openPort(bridgeSide)]);
  const state = {
    faultRate: { toBridge: options.faultRate, toNode: options.faultRate },
    faults: options.faults ?? ['flip', 'drop', 'noise'],
    touched: [] as TouchedFrame[],
    relayed: [] as RelayedFrame[],
    frames: { toBridge: 0, toNode: 0 },
    bytesOut: { toBridge: 0, toNode: 0 },
  };
  const toBridge = new FaultyRelay('toBridge', options.seed, state, toBridgePort);
  const toNode = new FaultyRelay('toNode', options.seed ^ 0x5eed, state, toNodePort);
  toNodePort.on('data', (chunk: Buffer) => toBridge.push(chunk));
  toBridgePort.on('data', (chunk: Buffer) => toNode.push(chunk));
  const closePort = (port: SerialPort) => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  return {
    get touched() {
      return state.touched;
    },
    get relayed() {
      return state.relayed;
    },
    get frames() {
      return state.frames;
    },
    get bytesOut() {
      return state.bytesOut;
    },
    setFaultRate(rate, direction) {
      if (direction !== 'toNode') state.faultRate.toBridge = rate;
      if (direction !== 'toBridge') state.faultRate.toNode = rate;
    },
    close: async () => {
      await Promise.all([closePort(toNodePort), closePort(toBridgePort)]);
    },
  };
}
