// npm run simulate -- --devices 500 --rate 1 [--node posix] [--outage 30/10] [--bad 0.05] [--skew 120] [--link-delay 200]
// Drives a fleet against a running bridge (by default the one `npm start` runs).
import { Command, InvalidArgumentError } from 'commander';
import { Fleet, formatStats, validateFleetOptions, type FleetOptions } from './fleet.ts';

const num = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, got '${v}'`);
  return n;
};

const outage = (v: string) => {
  const m = v.match(/^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/);
  if (!m) throw new InvalidArgumentError(`--outage wants EVERY/FOR in seconds, e.g. 30/10, got '${v}'`);
  return { everyMs: Number(m[1]) * 1000, forMs: Number(m[2]) * 1000 };
};

const program = new Command('simulate')
  .description('Run a fleet of virtual sensor nodes against an edge bridge')
  .option('--url <url>', 'the bridge MQTT listener', 'mqtt://127.0.0.1:1884')
  .option('--devices <n>', 'number of nodes', num('--devices'), 10)
  .option('--rate <n>', 'batches per second per node', num('--rate'), 1)
  .option('--batch <n>', 'readings per batch (2 per sample)', num('--batch'), 4)
  .option('--node <kind>', 'ts (virtual nodes in this process), wasm (the firmware core as WebAssembly, in this process) or posix (edge-node processes)', 'ts')
  .option('--prefix <p>', 'topic prefix', 'factory/floor1')
  .option('--id-prefix <p>', 'device ids are <p>-1..<p>-N', 'sim')
  .option('--state-dir <dir>', 'boot counters live here', './data/simulator')
  .option('--seed <n>', 'seed for readings, faults and skews', num('--seed'), 1)
  .option('--duration <s>', 'stop after this many seconds (default: until Ctrl-C)', num('--duration'))
  .option('--outage <every/for>', 'uplink down for FOR s every EVERY s, e.g. 30/10', outage)
  .option('--bad <fraction>', 'share of batches sent malformed (ts nodes)', num('--bad'), 0)
  .option('--skew <s>', 'clock skew per node, up to +/- this many seconds (ts nodes)', num('--skew'), 0)
  .option('--link-delay <ms>', 'delay on the uplink, each way', num('--link-delay'))
  .option('--link-rate <bytes>', 'uplink bytes per second per connection and direction', num('--link-rate'))
  .option('--quiet', 'no progress line (when another process prints the status, as npm start does)')
  .action(async (opts) => {
    const link = opts.linkDelay !== undefined || opts.linkRate !== undefined ? { delayMs: opts.linkDelay, bytesPerSec: opts.linkRate } : undefined;
    const o: FleetOptions = {
      url: opts.url, devices: opts.devices, rate: opts.rate, batch: opts.batch, node: opts.node, prefix: opts.prefix,
      idPrefix: opts.idPrefix, stateDir: opts.stateDir, seed: opts.seed, badFraction: opts.bad, skewMs: opts.skew * 1000,
      outage: opts.outage, link,
    };
    if (o.node !== 'ts' && o.node !== 'wasm' && o.node !== 'posix') program.error(`--node must be ts, wasm or posix, got '${opts.node}'`);
    const problems = validateFleetOptions(o);
    if (problems.length) program.error(problems.join('\n'));

    const fleet = new Fleet(o);
    await fleet.start();
    const tty = process.stdout.isTTY;
    let ticks = 0;
    let hinted = false;
    const progress = setInterval(() => {
      if (opts.quiet) return;
      const stats = fleet.stats();
      if (!hinted && stats.elapsedMs > 5000 && stats.connected === 0 && stats.acked === 0) {
        hinted = true;
        process.stderr.write(`\nno node could connect to ${o.url}: is the bridge running (npm start)?\n`);
      }
      const line = formatStats(stats);
      // One updating line on a terminal; a line every 5 s in logs.
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else if (++ticks % 5 === 0) process.stdout.write(`${line}\n`);
    }, 1000);

    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(progress);
      if (tty) process.stdout.write('\n');
      process.stdout.write('stopping: waiting for in-flight batches to be acknowledged...\n');
      const final = await fleet.stop();
      process.stdout.write(`${formatStats(final)}\n`);
      const unacked = final.sent - final.acked;
      if (unacked > 0) process.stdout.write(`${unacked} batches were not acknowledged (bridge unreachable?)\n`);
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    if (opts.duration !== undefined) setTimeout(() => void stop(), opts.duration * 1000);
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`simulate: ${err.message}\n`);
  process.exit(1);
});
