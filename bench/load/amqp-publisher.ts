// Scenario 1, the ceiling: batches published straight to the exchange with amqplib,
// over a pool of confirm channels with a window of unconfirmed publishes on each
// (the same pool shape as the bridge's defaults), persistent.
import amqp from 'amqplib';
import { serve } from '../lib/worker.ts';
import { batchPayload, deviceId, logSend, newSendLog, pace, topicFor } from './payload.ts';

interface Chan {
  ch: amqp.ConfirmChannel;
  inFlight: number;
  blocked: boolean;
}

let conns: amqp.ChannelModel[] = [];
let chans: Chan[] = [];
let cfg: { exchange: string; keyPrefix: string; topicPrefix: string; window: number; devices: number; bridgeProperties: boolean };
let waiters: Array<() => void> = [];
const wake = () => {
  const w = waiters;
  waiters = [];
  for (const f of w) f();
};

// The same properties the bridge gives each batch (PROTOCOL.md: headers, mandatory,
// timestamp), so the ceiling is the cost of publishing the bridge's own messages.
function properties(device: string, seq: number): amqp.Options.Publish {
  const base = { persistent: true, messageId: `${device}:1:${seq}`, contentType: 'application/msgpack' };
  if (!cfg.bridgeProperties) return base;
  return {
    ...base,
    mandatory: true,
    timestamp: Math.floor(Date.now() / 1000),
    headers: { 'x-device': device, 'x-boot': 1, 'x-seq': seq, 'x-fw': 'bench', 'x-topic': topicFor(cfg.topicPrefix, device) },
  };
}

serve({
  async connect(args: { url: string; exchange: string; keyPrefix: string; topicPrefix: string; connections: number; channelsPerConnection: number; window: number; devices: number; bridgeProperties: boolean }) {
    cfg = args;
    for (let c = 0; c < args.connections; c++) {
      const conn = await amqp.connect(args.url);
      conns.push(conn);
      for (let k = 0; k < args.channelsPerConnection; k++) {
        const ch = await conn.createConfirmChannel();
        const chan: Chan = { ch, inFlight: 0, blocked: false };
        ch.on('drain', () => {
          chan.blocked = false;
          wake();
        });
        chans.push(chan);
      }
    }
    return {};
  },
  async run(args: { phase: string; rate: number; durationMs: number }) {
    const counts = { sent: 0, acked: 0, failed: 0 };
    const sends = args.rate > 0 ? newSendLog() : undefined;
    const seqs = new Array<number>(cfg.devices).fill(0);
    let rr = 0;
    const trySend = (): boolean => {
      for (let tries = 0; tries < chans.length; tries++) {
        const c = chans[rr++ % chans.length]!;
        if (c.blocked || c.inFlight >= cfg.window) continue;
        const n = counts.sent % cfg.devices;
        const device = deviceId(args.phase, n);
        const seq = ++seqs[n]!;
        logSend(sends, n, seq);
        counts.sent++;
        c.inFlight++;
        const ok = c.ch.publish(cfg.exchange, `${cfg.keyPrefix}.${device}.telemetry`, batchPayload(device, seq), properties(device, seq), (err) => {
          c.inFlight--;
          if (err) counts.failed++;
          else counts.acked++;
          wake();
        });
        if (!ok) c.blocked = true;
        return true;
      }
      return false;
    };
    await pace({
      rate: args.rate,
      durationMs: args.durationMs,
      trySend,
      windowFree: () => new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 5);
      }),
    });
    const deadline = Date.now() + 30_000;
    while (chans.some((c) => c.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return { ...counts, sends };
  },
  async exit() {
    for (const c of conns) await c.close().catch(() => {});
    conns = [];
    chans = [];
  },
});
