import { readFileSync } from 'node:fs';
import { startPrivateRabbit, type PrivateRabbit, type PrivateRabbitOptions } from './rabbit-node.ts';
import { waitFor } from './unique.ts';

/**
 * A private RabbitMQ cluster of `size` nodes (default 3), each a startPrivateRabbit
 * node (own name, ports, data dir; shared cookie and epmd). Nodes 2..n join node 1
 * with stop_app / join_cluster / start_app. Never touches the shared node.
 */
export interface PrivateRabbitCluster {
  nodes: PrivateRabbit[];
  /** AMQP URLs in node order (the bridge's amqp.urls). */
  urls: string[];
  /** Milliseconds from the first boot to a cluster whose every node lists all members as running. */
  bootMs: number;
  /** The node whose AMQP port `port` is, if any. */
  byPort(port: number): PrivateRabbit | undefined;
  /** Names of the running members, as the first reachable node sees them. */
  running(): Promise<string[]>;
  /** Waits until every node reports all `nodes` running (after a restart). */
  awaitAllRunning(timeoutMs?: number): Promise<void>;
  /** Resident memory of the nodes' beam processes (bytes, summed), from /proc. */
  rssBytes(): number;
  dispose(): Promise<void>;
}

export interface PrivateRabbitClusterOptions extends PrivateRabbitOptions {
  size?: number;
}

export async function startPrivateRabbitCluster(opts: PrivateRabbitClusterOptions = {}): Promise<PrivateRabbitCluster> {
  const size = opts.size ?? 3;
  const t0 = Date.now();
  const nodes: PrivateRabbit[] = [];
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose().catch(() => {})));
  };
  try {
    // booted side by side: on 2 cores that is still faster than one after another
    const started = await Promise.allSettled(Array.from({ length: size }, (_, i) => startPrivateRabbit({ ...opts, label: `${opts.label ?? 'cl'}${i + 1}` })));
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [first, ...rest] = nodes as [PrivateRabbit, ...PrivateRabbit[]];
    for (const n of rest) {
      await n.rabbitmqctl(['stop_app']);
      await n.rabbitmqctl(['join_cluster', first.nodeName]);
      await n.rabbitmqctl(['start_app']);
    }
    const cluster = makeCluster(nodes, t0, dispose);
    await cluster.awaitAllRunning();
    cluster.bootMs = Date.now() - t0;
    return cluster;
  } catch (err) {
    await dispose();
    throw err;
  }
}

function makeCluster(nodes: PrivateRabbit[], t0: number, dispose: () => Promise<void>): PrivateRabbitCluster {
  const runningAt = async (n: PrivateRabbit): Promise<string[]> => {
    const out = await n.rabbitmqctl(['cluster_status', '--formatter', 'json'], { timeoutMs: 30_000 });
    const status = JSON.parse(out) as { running_nodes?: string[] };
    return status.running_nodes ?? [];
  };
  return {
    nodes,
    urls: nodes.map((n) => n.amqpUrl),
    bootMs: Date.now() - t0,
    byPort: (port) => nodes.find((n) => n.amqpPort === port),
    async running() {
      for (const n of nodes) {
        if (n.osPid === undefined) continue;
        try {
          return await runningAt(n);
        } catch {
          /* try the next */
        }
      }
      return [];
    },
    async awaitAllRunning(timeoutMs = 180_000) {
      const names = nodes.map((n) => n.nodeName).sort();
      await waitFor(
        async () => {
          for (const n of nodes) {
            const r = (await runningAt(n)).sort();
            if (r.join() !== names.join()) return false;
          }
          return true;
        },
        { timeoutMs, intervalMs: 500, what: `all ${nodes.length} cluster nodes running` },
      );
    },
    rssBytes() {
      let sum = 0;
      for (const n of nodes) sum += rssOf(n.osPid);
      return sum;
    },
    dispose,
  };
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // /proc/<pid>/statm: size resident ... in pages
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return pages * 4096;
  } catch {
    return 0;
  }
}
