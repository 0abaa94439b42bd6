// An MQTT 3.1.1 client on a bare socket, for tests that decide how PUBLISHes are cut into TCP
// writes and that see every PUBACK in the order it arrived.
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface RawMqttClient {
  /** PUBACK message ids, in arrival order. */
  readonly acks: number[];
  /** Writes these QoS 1 PUBLISHes (topic, payload, message id) as one TCP write. */
  publishChunk(messages: Array<{ topic: string; payload: string; messageId: number }>): void;
  readonly closed: boolean;
  close(): void;
}

export async function rawMqttClient(port: number, clientId: string): Promise<RawMqttClient> {
  const socket: Socket = connect(port, '127.0.0.1');
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const acks: number[] = [];
  let connack: (() => void) | undefined;
  let closed = false;
  parser.on('packet', (p: mqttPacket.Packet) => {
    if (p.cmd === 'connack') connack?.();
    if (p.cmd === 'puback') acks.push(p.messageId!);
  });
  socket.on('data', (b) => parser.parse(b));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    connack = resolve;
    socket.once('error', reject);
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60 }));
  });
  return {
    acks,
    publishChunk(messages) {
      const frames = messages.map((m) => mqttPacket.generate({ cmd: 'publish', topic: m.topic, payload: Buffer.from(m.payload), qos: 1, messageId: m.messageId, dup: false, retain: false }));
      socket.write(Buffer.concat(frames));
    },
    get closed() {
      return closed;
    },
    close: () => socket.destroy(),
  };
}
