import { describe, expect, it } from 'vitest';
import { parser as mqttParser, type Packet } from 'mqtt-packet';
import { pubackFrames } from '../../src/ingress/mqtt-client.ts';

describe('pubackFrames', () => {
  it('writes PUBACKs an MQTT 5 parser reads back as Success, in order, for the requested range', () => {
    const ids = [1, 255, 256, 0x1234, 65535, 7].map((messageId) => ({ messageId }));
    const seen: Packet[] = [];
    const p = mqttParser({ protocolVersion: 5 });
    p.on('packet', (x: Packet) => seen.push(x));
    p.on('error', (err: Error) => {
      throw err;
    });
    const bytes = pubackFrames(ids, 1, 5);
    expect(bytes.length).toBe(16);
    p.parse(bytes);
    expect(seen.map((x) => x.cmd)).toEqual(['puback', 'puback', 'puback', 'puback']);
    expect(seen.map((x) => (x as { messageId?: number }).messageId)).toEqual([255, 256, 0x1234, 65535]);
    for (const x of seen) expect((x as { reasonCode?: number }).reasonCode ?? 0).toBe(0);
  });
});
