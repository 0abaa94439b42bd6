// Scenario 5, the naive bridge, written the way the usual tutorials show it: subscribe
// to a broker, and for each message publish it with amqplib on a confirm channel and
// await that confirm before handling the next one. No store; mqtt.js acknowledges
// each message as it arrives. This process is the one under test, not a load generator.
import amqp from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { serve } from '../lib/worker.ts';

let client: MqttClient | undefined;
let conn: amqp.ChannelModel | undefined;
let forwarded = 0;
let chain: Promise<void> = Promise.resolve();

serve({
  async start(args: { mqttUrl: string; amqpUrl: string; exchange: string; filter: string; clientId: string }) {
    conn = await amqp.connect(args.amqpUrl);
    const ch = await conn.createConfirmChannel();
    client = mqtt.connect(args.mqttUrl, { clientId: args.clientId, clean: true });
    client.on('message', (topic, payload) => {
      chain = chain.then(async () => {
        ch.publish(args.exchange, topic.replace(/\//g, '.'), payload, { persistent: true });
        await ch.waitForConfirms();
        forwarded++;
      });
    });
    await new Promise<void>((resolve, reject) => {
      client!.once('connect', () => client!.subscribe(args.filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      client!.once('error', reject);
    });
    return {};
  },
  stats() {
    return { forwarded };
  },
  async exit() {
    await new Promise<void>((r) => (client ? client.end(true, {}, () => r()) : r()));
    await conn?.close().catch(() => {});
  },
});
