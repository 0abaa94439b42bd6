// `edge-bridge tail` and `edge-bridge plan` run as child processes (bridge/bin/edge-bridge.js),
// tail against the shared RabbitMQ with a run-unique exchange.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { encodeBatch } from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const BIN = new URL('../../bin/edge-bridge.js', import.meta.url).pathname;

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Run = { child, stdout: '', stderr: '', exit: new Promise((res) => child.once('exit', (code) => res(code))) };
  child.stdout!.on('data', (d: Buffer) => (r.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (r.stderr += d.toString()));
  return r;
}

let conn: ChannelModel;
let ch: ConfirmChannel;
let dir: string;
let cfg: string;
let exchange: string;
const children: ChildProcess[] = [];

function batch(device: string, seq: number, readings: Batch['readings'], unsynced = false): Buffer {
  return encodeBatch({ v: 1, device, boot: 2, seq, fw: '1.0.0', ts: unsynced ? 5000 : Date.UTC(2026, 0, 2, 3, 4, 5), unsynced, readings });
}

beforeAll(async () => {
  const prefix = uniquePrefix('tail');
  exchange = `${prefix}.tele`;
  conn = await amqp.connect(AMQP);
  ch = await conn.createConfirmChannel();
  await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
  dir = mkdtempSync(join(tmpdir(), 'edge-tail-'));
  cfg = join(dir, 'bridge.yaml');
  writeFileSync(cfg, `amqp:\n  urls: ['${AMQP}']\n  topology:\n    exchange: ${exchange}\n`);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  // A fresh channel: a failed test may have left `ch` closed by a channel error.
  const cleanup = await conn?.createChannel().catch(() => undefined);
  await cleanup?.deleteExchange(exchange).catch(() => {});
  await conn?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Passive declare on a throwaway channel (a failed one closes its channel): the error text, or 'exists'. */
async function probeQueue(queue: string): Promise<string> {
  const probe = await conn.createChannel();
  probe.on('error', () => {});
  try {
    await probe.checkQueue(queue);
    await probe.close();
    return 'exists';
  } catch (err) {
    return (err as Error).message;
  }
}

async function startedTail(args: string[]): Promise<{ r: Run; queue: string }> {
  const r = run(['tail', ...args, '-c', cfg]);
  children.push(r.child);
  const line = await waitFor(() => /temporary queue (\S+)\)/.exec(r.stderr), { timeoutMs: 30_000, what: `tail to start (stderr: ${r.stderr})` });
  return { r, queue: line[1]! };
}

describe('edge-bridge tail', () => {
  it('prints only matching readings as JSON; its queue is exclusive and gone after SIGINT', async () => {
    const { r, queue } = await startedTail(['factory.*.temperature', '--json']);
    // Exclusive: another connection may not even look at it (405), which also proves it exists.
    expect(await probeQueue(queue)).toMatch(/405 \(RESOURCE-LOCKED\)/);

    const pub = (key: string, body: Buffer, id: string) => ch.publish(exchange, key, body, { messageId: id });
    pub('factory.floor1.temperature', batch('node-1', 0, [{ sensor: 'temperature', offset: 0, value: 21.3 }, { sensor: 'temperature', offset: 500, value: 21.5 }]), 'node-1:2:0');
    pub('factory.floor1.humidity', batch('node-1', 1, [{ sensor: 'humidity', offset: 0, value: 40 }]), 'node-1:2:1');
    pub('factory.a.b.temperature', batch('node-2', 0, [{ sensor: 'temperature', offset: 0, value: 1 }]), 'node-2:2:0');
    pub('factory.floor2.temperature', batch('node-3', 7, [{ sensor: 'temperature', offset: 10, value: -4.25 }], true), 'node-3:2:7');
    pub('factory.floor2.temperature', Buffer.from('not a batch'), 'junk');
    await ch.waitForConfirms();

    await waitFor(() => r.stdout.split('\n').filter(Boolean).length >= 3 && r.stderr.includes('undecodable'), { timeoutMs: 20_000, what: `3 readings (got ${r.stdout})` });
    // The last publish was the undecodable one: everything before it has been printed too.
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { time: '2026-01-02T03:04:05.000Z', routingKey: 'factory.floor1.temperature', messageId: 'node-1:2:0', device: 'node-1', boot: 2, seq: 0, sensor: 'temperature', value: 21.3, unsynced: false },
      { time: '2026-01-02T03:04:05.500Z', routingKey: 'factory.floor1.temperature', messageId: 'node-1:2:0', device: 'node-1', boot: 2, seq: 0, sensor: 'temperature', value: 21.5, unsynced: false },
      { time: 'boot+5010ms', routingKey: 'factory.floor2.temperature', messageId: 'node-3:2:7', device: 'node-3', boot: 2, seq: 7, sensor: 'temperature', value: -4.25, unsynced: true },
    ]);
    expect(r.stderr).toMatch(/undecodable message junk on factory\.floor2\.temperature: /);

    r.child.kill('SIGINT');
    expect(await r.exit).toBe(0);
    // Exclusive + auto-delete: the broker removed it with the connection.
    expect(await probeQueue(queue)).toMatch(/404 \(NOT-FOUND\)/);
  });

  it('human-readable lines, and --count exits by itself', async () => {
    const { r } = await startedTail(['#', '--count', '2']);
    ch.publish(exchange, 'plant.x.pressure', batch('node-9', 4, [{ sensor: 'pressure', offset: 0, value: 1013.25 }, { sensor: 'pressure', offset: 1000, value: 1013.5 }, { sensor: 'pressure', offset: 2000, value: 9 }]), { messageId: 'node-9:2:4' });
    await ch.waitForConfirms();
    expect(await r.exit).toBe(0);
    expect(r.stdout).toBe(
      '2026-01-02T03:04:05.000Z  plant.x.pressure  node-9  pressure=1013.25  (node-9:2:4)\n' +
        '2026-01-02T03:04:06.000Z  plant.x.pressure  node-9  pressure=1013.5  (node-9:2:4)\n',
    );
  });

  it('a missing exchange is a clear error, exit 1', async () => {
    const r = run(['tail', '#', '-c', cfg, '--exchange', `${exchange}-missing`]);
    children.push(r.child);
    expect(await r.exit).toBe(1);
    expect(r.stderr).toContain(`exchange '${exchange}-missing' does not exist`);
  });
});

describe('edge-bridge plan', () => {
  it("prints the seeds' example with formulas, and rejects bad input with exit 2", async () => {
    const ok = run(['plan', '--devices', '1000', '--rate', '8', '--batch', '16', '--msg-size', '1KB', '--backlog-seconds', '10', '--handler-ms', '20', '--outage', '10m']);
    children.push(ok.child);
    expect(await ok.exit).toBe(0);
    expect(ok.stdout).toContain('queue memory for the backlog: 5 MB\n    M = λ × backlog × size = 500 msg/s × 10 s × 1 KB = 5 MB per queue');
    expect(ok.stdout).toContain('consumers needed: 15 consumers');
    expect(ok.stdout).toContain('local store for the outage: 360 MB'); // 500 × 600 × 1200 B
    const bad = run(['plan', '--devices', '0', '--rate', '8', '--batch', '16', '--msg-size', '1KB', '--backlog-seconds', '10', '--handler-ms', '20']);
    children.push(bad.child);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr).toContain('devices: expected a whole number > 0, got 0');
  });
});
