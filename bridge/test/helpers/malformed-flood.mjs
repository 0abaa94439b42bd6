// A flood of malformed payloads from logged-in devices, in a process of its own so the
// flood's own work never delays the honest client that a test measures.
//   node bridge/test/helpers/malformed-flood.mjs '<json>'
//   json: { url, devices: [{ id, secret }], prefix, perSecond }
// Prints "flooding" once every device is connected. It floods while the last line read
// on stdin is "on", idles after "off", and on "end" (or stdin closing) disconnects and
// prints "done <sent>".
import mqtt from 'mqtt';
import { createInterface } from 'node:readline';

const o = JSON.parse(process.argv[2]);
const garbage = Buffer.from([0xc1, 0xde, 0xad, 0xbe, 0xef]);
const clients = await Promise.all(
  o.devices.map((d) => mqtt.connectAsync(o.url, { clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0 })),
);
let flooding = false;
let ended = false;
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'on') flooding = true;
    else if (line === 'off') flooding = false;
    else if (line === 'end') ended = true;
  })
  .on('close', () => (ended = true));
process.stdout.write('flooding\n');
const tick = 100;
const perTick = Math.max(1, Math.round((o.perSecond * tick) / 1000));
let sent = 0;
await Promise.all(
  clients.map(async (client, i) => {
    const topic = `${o.prefix}/${o.devices[i].id}/telemetry`;
    while (!ended) {
      const t0 = Date.now();
      if (flooding) {
        await Promise.all(Array.from({ length: perTick }, () => client.publishAsync(topic, garbage, { qos: 1 })));
        sent += perTick;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, tick - (Date.now() - t0))));
    }
  }),
);
await Promise.all(clients.map((c) => c.endAsync()));
process.stdout.write(`done ${sent}\n`);
