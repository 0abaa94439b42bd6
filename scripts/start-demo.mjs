#!/usr/bin/env node
// `npm start`: the bridge on embedded defaults (config/dev.yaml, MQTT on 1884) and, once it
// listens, three virtual nodes from the fleet simulator in a process of their own. Ctrl-C
// stops both; the bridge finishes its in-flight work first.
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MQTT_PORT = 1884;

const bridge = spawn(process.execPath, ['bridge/bin/edge-bridge.js', 'start', '--demo', '-c', 'config/dev.yaml', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
let nodes;

const listening = () =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: MQTT_PORT }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

async function startNodes() {
  while (bridge.exitCode === null && !(await listening())) await new Promise((r) => setTimeout(r, 200));
  if (bridge.exitCode !== null) return;
  const args = ['--import', 'tsx', 'simulator/fleet/cli.ts', '--url', `mqtt://127.0.0.1:${MQTT_PORT}`, '--devices', '3', '--rate', '1', '--batch', '4', '--id-prefix', 'sim-node', '--state-dir', './data/nodes', '--quiet'];
  nodes = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    nodes?.kill(sig);
    bridge.kill(sig);
  });
}
bridge.once('exit', (code) => {
  nodes?.kill('SIGTERM');
  process.exitCode = code ?? 1;
});
void startNodes();
