// A flood of malformed payloads from logged-in devices, in a process of its own so the
// flood's own work never delays the honest client that a test measures.
//   node bridge/test/helpers/malformed-flood.mjs '<json>'
//   json: { url, devices: [{ id, secret }], prefix, perSecond, durationMs }
// Prints "flooding" once every device is connected, and "done <sent>" at the end.
import mqtt from 'mqtt';

const o = JSON.parse(process.argv[2]);
const garbage = Buffer.from([0xc1, 0xde, 0xad, 0xbe, 0xef]);
const clients = await Promise.all(
  o.devices.map((d) => mqtt.connectAsync(o.url, { clientId: d.id, username: d.id, password: d.secret, reconnectPeriod: 0 })),
);
process.stdout.write('flooding\n');
const end = Date.now() + o.durationMs;
const tick = 100;
const perTick = Math.max(1, Math.round((o.perSecond * tick) / 1000));
let sent = 0;
await Promise.all(
  clients.map(async (client, i) => {
    const topic = `${o.prefix}/${o.devices[i].id}/telemetry`;
    while (Date.now() < end) {
      const t0 = Date.now();
      await Promise.all(Array.from({ length: perTick }, () => client.publishAsync(topic, garbage, { qos: 1 })));
      sent += perTick;
      await new Promise((r) => setTimeout(r, Math.max(0, tick - (Date.now() - t0))));
    }
  }),
);
await Promise.all(clients.map((c) => c.endAsync()));
process.stdout.write(`done ${sent}\n`);
