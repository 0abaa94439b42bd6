// Duplicate message ids in RabbitMQ per outage, POSIX edge-node -> bridge
// (embedded broker) -> RabbitMQ. The bridge, and so the broker the nodes talk
// to, is stopped for each outage length and restarted on the same port and
// store; the script counts every copy RabbitMQ delivers per message id.
//   npx tsx firmware/tools/outage-duplicates.ts [outage seconds ...]   (default 5 30)
// Needs `make -C firmware posix` and RabbitMQ on 127.0.0.1:5672 (guest).
// EDGE_NODE_BIN picks another edge-node binary, e.g. an older build to compare.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import { decodeBatch } from '../../bridge/src/codec/index.ts';
import { loadConfig } from '../../bridge/src/config/index.ts';
import { composeBridge, type Bridge } from '../../bridge/src/compose.ts';
import { freePort } from '../../shared/testkit/ports.ts';
import { uniquePrefix, waitFor } from '../../shared/testkit/unique.ts';
import { spawnEdgeNode, type EdgeNodeHandle } from '../../simulator/nodes/edge-node.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const NODES = 2;
// one batch a second per node, so every outage leaves batches in flight and waiting
const NODE = { intervalMs: 500, batch: 6, sensors: ['temperature', 'humidity', 'pot'] };

async function measure(outageS: number): Promise<{ batches: number; copies: number; duplicates: number; perOutage: number }> {
  const prefix = uniquePrefix('dup');
  const dir = mkdtempSync(join(tmpdir(), 'edge-dup-'));
  const conn = await amqp.connect(AMQP);
  const ch = await conn.createChannel();
  const port = await freePort();
  const topicPrefix = `${prefix}/floor1`;
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port } },
      amqp: {
        urls: [AMQP],
        topology: {
          exchange: `${prefix}.tele`, alternateExchange: `${prefix}.ae`, unroutableQueue: `${prefix}.unroutable`,
          deadLetterExchange: `${prefix}.dlx`, deadLetterQueue: `${prefix}.dlq`,
          queues: [{ name: `${prefix}.all`, bindings: ['#'] }],
        },
      },
      routing: { rules: [{ name: 'nodes', filter: `${topicPrefix}/+device/telemetry`, key: 'node.{device}', split: 'none' }] },
      store: { dir: join(dir, 'store') },
      quarantine: { dir: join(dir, 'quarantine') },
      queueHealth: { enabled: false },
      observe: { dashboard: { enabled: false } },
    }),
  );
  let pipeline: Bridge | undefined;
  const start = async () => {
    pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    await pipeline.start();
  };
  const copies = new Map<string, number>();
  const seqs = new Map<string, Set<number>>();
  const nodes: EdgeNodeHandle[] = [];
  try {
    await start();
    await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
      if (!m) return;
      const id = String(m.properties.messageId);
      copies.set(id, (copies.get(id) ?? 0) + 1);
      const r = decodeBatch(m.content);
      if (r.ok) {
        if (!seqs.has(r.value.device)) seqs.set(r.value.device, new Set());
        seqs.get(r.value.device)!.add(r.value.seq);
      }
      ch.ack(m);
    });
    const devices = Array.from({ length: NODES }, (_, i) => `${prefix}-n${i}`);
    for (const [i, device] of devices.entries()) {
      nodes.push(spawnEdgeNode({ device, seed: 100 + i, ...NODE, stateDir: join(dir, device), broker: `mqtt://127.0.0.1:${port}`, prefix: topicPrefix }));
    }
    const contiguous = (d: string) => {
      let n = 0;
      while (seqs.get(d)?.has(n)) n++;
      return n;
    };
    await waitFor(() => devices.every((d) => contiguous(d) >= 5), { timeoutMs: 30_000, what: '5 batches from each node' });
    await pipeline!.stop();
    pipeline = undefined;
    const before = new Map(devices.map((d) => [d, contiguous(d)]));
    await new Promise((r) => setTimeout(r, outageS * 1000));
    await start();
    await waitFor(() => devices.every((d) => contiguous(d) >= before.get(d)! + outageS + 5), {
      timeoutMs: 90_000,
      what: 'the held batches and 5 more from each node',
    });
    await new Promise((r) => setTimeout(r, 3000)); // late copies still on their way
    const total = [...copies.values()].reduce((a, b) => a + b, 0);
    return { batches: copies.size, copies: total, duplicates: total - copies.size, perOutage: (total - copies.size) / NODES };
  } finally {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await pipeline?.stop().catch(() => undefined);
    for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
    for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    await conn.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const outages = process.argv.slice(2).map(Number);
for (const s of outages.length ? outages : [5, 30]) {
  const r = await measure(s);
  console.log(
    `outage ${s} s: ${r.batches} batches from ${NODES} nodes, ${r.copies} copies in RabbitMQ, ` +
      `${r.duplicates} duplicate message ids (${r.perOutage.toFixed(1)} per node per outage)`,
  );
}
process.exit(0);
