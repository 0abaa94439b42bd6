// npm run board [-- --url ws://127.0.0.1:8083/mqtt --port 8090 --device board-1]
import { Command, InvalidArgumentError } from 'commander';
import { Board } from './board.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be 0..65535, got '${v}'`);
  return n;
};

const program = new Command('board')
  .description('A browser board running the firmware core (edge_core.wasm) and publishing into an edge bridge over MQTT on WebSocket')
  .option('--url <url>', "the bridge's MQTT-over-WebSocket listener (mqtt.embedded.websocket)", 'ws://127.0.0.1:8083/mqtt')
  .option('--host <host>', 'HTTP listen address', '127.0.0.1')
  .option('--port <n>', 'HTTP port', port, 8090)
  .option('--device <id>', 'device id', 'board-1')
  .option('--prefix <p>', 'topic prefix', 'factory/floor1')
  .option('--username <user>', 'MQTT login (when the bridge has logins on)')
  .option('--password <secret>', 'MQTT password (or EDGE_BOARD_PASSWORD)')
  .action(async (opts) => {
    const board = new Board({
      wsUrl: opts.url, device: opts.device, prefix: opts.prefix, host: opts.host, port: opts.port,
      username: opts.username, password: opts.password ?? process.env.EDGE_BOARD_PASSWORD,
    });
    const url = await board.start();
    process.stdout.write(`board for ${opts.device} at ${url} (the page runs edge_core.wasm and publishes to ${opts.url}); Ctrl-C to stop\n`);
    const stop = () => void board.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`board: ${err.message}\n`);
  process.exit(1);
});
