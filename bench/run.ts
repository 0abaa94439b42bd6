// npm run bench [-- --quick]
// The benchmark report of issue #9, as far as it exists: the firmware figures are
// measured (rv32imc sizes, callgrind instructions per reading) and the store backends
// are compared in the same run. The peer scenarios (direct amqplib ceiling, bridge
// with embedded and external MQTT, RabbitMQ's MQTT plugin, a naive bridge), latency,
// drain and 10k connections are NOT implemented yet: the table says so instead of
// printing a number. Results go to bench/results/<date>.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');

interface Row {
  what: string;
  target: string;
  result: string;
  met: boolean | undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  process.stderr.write(`[bench] ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

const rows: Row[] = [];
const raw: Record<string, unknown> = {};

// Firmware: sizes of the core on rv32imc and the instruction count of encode + enqueue.
const size = run('make', ['-s', '-C', 'firmware', 'size']);
const text = Number(/^\s*(\d+)\s+\d+\s+\d+\s+\d+\s+\w+\s+\(TOTALS\)/m.exec(size)?.[1]);
const bss = Number(/(\d+) bytes bss/.exec(size)?.[1]);
const cg = run('make', ['-s', '-C', 'firmware', 'callgrind']);
const perReading = Number(/(\d+) per reading/.exec(cg)?.[1]);
raw.firmware = { textBytes: text, nodeStateBytes: bss, instructionsPerReading: perReading };
rows.push({ what: 'Firmware core text (rv32imc)', target: '<= 24 KB', result: `${(text / 1024).toFixed(1)} KB`, met: text <= 24 * 1024 });
rows.push({ what: 'Firmware static RAM (edge_node_t)', target: '<= 16 KB', result: `${(bss / 1024).toFixed(1)} KB`, met: bss <= 16 * 1024 });
rows.push({ what: 'Encode + enqueue per reading (batch 16)', target: '<= 2000 instr', result: `${perReading} instr`, met: perReading <= 2000 });

// Store backends, measured side by side in this run.
const store = run(process.execPath, ['--import', 'tsx', 'bench/store-backends.ts'], { BENCH_MS: quick ? '1000' : '2500' });
raw.storeBackends = store.trim();

for (const [what, target] of [
  ['Bridge (embedded MQTT) vs direct amqplib ceiling', '>= 0.8x'],
  ['Bridge vs naive bridge', '>= 10x'],
  ['Bridge vs RabbitMQ MQTT plugin', '>= 1.0x'],
  ['Bridge p99 at 50 % load vs plugin p99', '<= 1.5x'],
  ['RSS with 1 M messages backlogged', '<= 150 MB'],
  ['Drain rate vs ceiling', '>= 0.8x'],
  ['10k MQTT connections RSS', '<= 250 MB'],
] as const) {
  rows.push({ what, target, result: 'not measured: scenario not implemented yet', met: undefined });
}

const w = Math.max(...rows.map((r) => r.what.length));
process.stdout.write('\nstore backends (same run):\n' + store.trim() + '\n\n');
process.stdout.write(`${'what'.padEnd(w)}  ${'target'.padEnd(14)}  result\n`);
for (const r of rows) {
  const verdict = r.met === undefined ? '' : r.met ? '  met' : '  MISSED';
  process.stdout.write(`${r.what.padEnd(w)}  ${r.target.padEnd(14)}  ${r.result}${verdict}\n`);
}
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${new Date().toISOString().slice(0, 10)}.json`);
writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), quick, rows, raw }, null, 2) + '\n');
process.stdout.write(`\nwritten: ${file}\n`);
