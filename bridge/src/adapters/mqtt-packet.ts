// The mqtt-packet internals the MQTT ingresses rely on, and those of its debug and bl, in one
// place. Checked against mqtt-packet 9.0.2, debug 4.4.3 and bl 6.1.6;
// bridge/test/unit/adapters.test.ts fails if an upgrade changes them.
import { createRequire } from 'node:module';

export const MQTT_PACKET_CHECKED = '9.0.2';
export const DEBUG_CHECKED = '4.4.3';
export const BL_CHECKED = '6.1.6';

const require = createRequire(import.meta.url);
let quieted: boolean | undefined;

/**
 * mqtt-packet's parser and writer call their `debug` loggers many times per packet; off, each
 * call still builds a rest-arguments array (1.3-1.5 us per PUBLISH and its PUBACK, about half of
 * mqtt-packet's own cost). Its loggers are made once, at load, by `require('debug')(namespace)`:
 * this hands it a no-op for each namespace DEBUG leaves off. Works only before mqtt-packet is
 * first loaded (hence loadAedes/loadMqttPacket); false when it was too late. Other users of
 * debug get the real one; DEBUG=mqtt-packet:* still logs.
 */
export function quietPacketDebug(): boolean {
  if (quieted !== undefined) return quieted;
  const packetRequire = createRequire(require.resolve('mqtt-packet'));
  const parserPath = packetRequire.resolve('./parser.js');
  const debugPath = packetRequire.resolve('debug');
  const entry = require.cache[debugPath] ?? (packetRequire('debug'), require.cache[debugPath]);
  if (require.cache[parserPath] || !entry) return (quieted = false);
  const real = entry.exports as ((namespace: string) => unknown) & { enabled(namespace: string): boolean };
  const off = () => {};
  entry.exports = new Proxy(real, {
    apply: (target, self, args: unknown[]) => {
      const ns = args[0];
      return typeof ns === 'string' && ns.startsWith('mqtt-packet:') && !target.enabled(ns) ? off : Reflect.apply(target, self, args);
    },
  });
  return (quieted = true);
}

interface BufferListLike {
  _bufs: Buffer[];
  length: number;
}
type Read = (this: BufferListLike, offset?: number) => number;

let fastReads = false;

/**
 * mqtt-packet parses through a bl BufferListStream, whose readUInt8/readUInt16BE/readUInt32BE and
 * toString slice a Buffer view and an offset pair per call (several per packet: the fixed
 * header, the length bytes, the topic, the packet id): 0.4-1.3 us and a third of the parser's
 * garbage per PUBLISH. These read in place when the bytes lie in one of the list's buffers, and
 * call bl's own method otherwise (across buffers, out of range), so results and errors are bl's.
 * BufferListStream copies BufferList's methods at load; only its copies are replaced.
 */
export function fastPacketReads(): void {
  if (fastReads) return;
  fastReads = true;
  const packetRequire = createRequire(require.resolve('mqtt-packet'));
  const proto = (packetRequire('bl') as { prototype: Record<string, unknown> }).prototype;
  const inPlace = (width: number, read: (b: Buffer, at: number) => number): Read => {
    const own = proto[`readUInt${width * 8}${width > 1 ? 'BE' : ''}`] as Read;
    return function (this: BufferListLike, offset = 0) {
      if (Number.isInteger(offset) && offset >= 0) {
        const bufs = this._bufs;
        let at = offset;
        for (let i = 0; i < bufs.length; i++) {
          const b = bufs[i]!;
          if (at < b.length) {
            if (at + width <= b.length) return read(b, at);
            break;
          }
          at -= b.length;
        }
      }
      return own.call(this, offset);
    };
  };
  proto.readUInt8 = inPlace(1, (b, at) => b[at]!);
  proto.readUInt16BE = inPlace(2, (b, at) => (b[at]! << 8) | b[at + 1]!);
  proto.readUInt32BE = inPlace(4, (b, at) => b.readUInt32BE(at));
  const ownToString = proto.toString as (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number) => string;
  proto.toString = function (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number): string {
    if (Number.isInteger(start) && Number.isInteger(end) && start! >= 0 && end! > start! && end! <= this.length) {
      const bufs = this._bufs;
      let at = start!;
      for (let i = 0; i < bufs.length; i++) {
        const b = bufs[i]!;
        if (at < b.length) {
          if (at + end! - start! <= b.length) return b.toString(encoding, at, at + end! - start!);
          break;
        }
        at -= b.length;
      }
    }
    return ownToString.call(this, encoding, start, end);
  };
}

/**
 * mqtt-packet writes packet ids from a cache of 65 536 two-byte Buffers, built on the first
 * write: 7 MB of heap and 12 MB of RSS, 65k old objects every full GC marks again, to save one
 * 2-byte allocation per PUBACK. Off, by its documented switch (writeToStream.cacheNumbers),
 * before the first write.
 */
export function uncachedPacketNumbers(): void {
  const packetRequire = createRequire(require.resolve('mqtt-packet'));
  (packetRequire('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } }).writeToStream.cacheNumbers = false;
}

/** Everything above, before mqtt-packet is first loaded. */
function tuneMqttPacket(): void {
  quietPacketDebug();
  fastPacketReads();
  uncachedPacketNumbers();
}

/** aedes (which loads mqtt-packet), with mqtt-packet tuned first. */
export async function loadAedes(): Promise<typeof import('aedes')> {
  tuneMqttPacket();
  return import('aedes');
}

/** mqtt-packet, tuned first: debug quieted, reads in place, number cache off. */
export async function loadMqttPacket(): Promise<typeof import('mqtt-packet')> {
  tuneMqttPacket();
  return import('mqtt-packet');
}
