// The mqtt-packet and debug internals the MQTT ingresses rely on, in one place. Checked against
// mqtt-packet 9.0.2 and debug 4.4.3; bridge/test/unit/adapters.test.ts fails if an upgrade changes them.
import { createRequire } from 'node:module';

export const MQTT_PACKET_CHECKED = '9.0.2';
export const DEBUG_CHECKED = '4.4.3';

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

/** aedes (which loads mqtt-packet), with mqtt-packet's debug quieted first. */
export async function loadAedes(): Promise<typeof import('aedes')> {
  quietPacketDebug();
  return import('aedes');
}

/** mqtt-packet, its debug quieted first. */
export async function loadMqttPacket(): Promise<typeof import('mqtt-packet')> {
  quietPacketDebug();
  return import('mqtt-packet');
}
