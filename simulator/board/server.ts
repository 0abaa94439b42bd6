// npm run board [-- --url mqtt://127.0.0.1:1884 --port 8090 --device board-1]
import { Command, InvalidArgumentError } from 'commander';
import { Board } from './board.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be 0..65535, got '${v}'`);
  return n;
};

const program = new Command('board')
  .description('A browser board with one virtual node publishing into an edge bridge')
  .option('--url <url>', 'the bridge MQTT listener', 'mqtt://127.0.0.1:1884')
  .option('--host <host>', 'HTTP listen address', '127.0.0.1')
  .option('--port <n>', 'HTTP port', port, 8090)
  .option('--device <id>', 'device id', 'board-1')
  .option('--prefix <p>', 'topic prefix', 'factory/floor1')
  .option('--state-dir <dir>', 'boot counter directory', './data/board')
  .action(async (opts) => {
    const board = new Board({ bridgeUrl: opts.url, device: opts.device, prefix: opts.prefix, stateDir: `${opts.stateDir}/${opts.device}`, host: opts.host, port: opts.port });
    const url = await board.start();
    process.stdout.write(`board for ${opts.device} at ${url} (node publishing to ${opts.url}); Ctrl-C to stop\n`);
    const stop = () => void board.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`board: ${err.message}\n`);
  process.exit(1);
});
