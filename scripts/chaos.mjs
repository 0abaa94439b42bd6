#!/usr/bin/env node
// `npm run chaos`: the full reliability run (docs/reliability.md).
//   1. faults under load (vitest project `chaos`, CHAOS_PROFILE=full): bridge kill -9
//      (MQTT and serial nodes), RabbitMQ kill/stop/memory and disk alarm on a private
//      node, network faults, full disk, torn store;
//   2. fast-check properties with FUZZ_RUNS total cases (default 1 000 000);
//   3. libFuzzer on the C deframer and command parser, FUZZ_RUNS executions each.
// Writes the results table between the markers in docs/reliability.md.
//   --subset    the npm test figures (3 kills, 10 + 2 nodes, 10 s outage), for a quick look
//   --seed N    seeds the fault moments and offsets (else CHAOS_SEED, else a random seed, printed)
//   --no-doc    print the table only
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const subset = args.includes('--subset');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? args[seedAt + 1] : (process.env.CHAOS_SEED ?? String(1 + Math.floor(Math.random() * (2 ** 31 - 1))));
console.log(`chaos seed ${seed} (replay: npm run chaos -- --seed ${seed})`);
const fuzzRuns = process.env.FUZZ_RUNS ?? (subset ? '20000' : '1000000');
const results = join(mkdtempSync(join(tmpdir(), 'chaos-')), 'results.jsonl');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const started = Date.now();

function run(cmd, cmdArgs, env = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, cmdArgs, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.once('error', (err) => resolve({ code: 127, out: String(err) }));
    child.once('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

const stages = [];
async function stage(name, cmd, cmdArgs, env) {
  const t0 = Date.now();
  console.log(`\n==> ${name}`);
  const r = await run(cmd, cmdArgs, env);
  const ok = r.code === 0;
  stages.push({ name, ok, seconds: (Date.now() - t0) / 1000 });
  return { ...r, ok };
}

// the serial nodes of the bridge-kill fault are POSIX edge-node processes
if (existsSync(join(root, 'firmware', 'Makefile'))) await run('make', ['-C', 'firmware', 'posix']);
await stage('faults under load', bin('vitest'), ['run', '--project', 'chaos'], {
  CHAOS_PROFILE: subset ? 'subset' : 'full',
  CHAOS_SEED: seed,
  CHAOS_RESULTS: results,
});
const props = await stage('fast-check properties', bin('vitest'), ['run', 'bridge/test/unit/codec-properties.test.ts', 'bridge/test/unit/routing-escape.test.ts'], {
  FUZZ_RUNS: fuzzRuns,
});
const fuzz = existsSync(join(root, 'firmware', 'Makefile'))
  ? await stage('libFuzzer (C deframer, command parser)', 'make', ['-C', 'firmware', 'fuzz', `FUZZ_RUNS=${fuzzRuns}`])
  : undefined;

const rows = existsSync(results) ? readFileSync(results, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const execs = [...(fuzz?.out ?? '').matchAll(/stat::number_of_executed_units:\s*(\d+)/g)].map((m) => Number(m[1]));
const minutes = ((Date.now() - started) / 60000).toFixed(1);

const lines = [
  `Last ${subset ? 'subset' : 'full'} run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, seed ${seed}, ${minutes} min in all.`,
  '',
  '| Fault | Injected | Acknowledged | Delivered | Lost | Duplicates | Dropped / expired by policy | Notes |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.fault} | ${r.injected} | ${r.acknowledged} | ${r.delivered} | ${r.lost} | ${r.duplicates} | ${r.droppedByPolicy} / ${r.expiredByPolicy} | ${r.note ?? ''} |`),
  '',
  '| Stage | Result | Time |',
  '|---|---|---:|',
  ...stages.map((s) => `| ${s.name} | ${s.ok ? 'passed' : `FAILED (replay: --seed ${seed})`} | ${s.seconds.toFixed(0)} s |`),
  '',
  `fast-check: ${fuzzRuns} cases shared between the codec/COBS properties, plus the routing-key properties; ${props.ok ? '0 failures' : 'FAILURES, see the log'}.`,
  fuzz ? `libFuzzer: ${execs.map((n) => n.toLocaleString('en')).join(' + ')} executions (deframer + cmd), ${fuzz.ok ? '0 crashes' : 'CRASH or error, see the log'}.` : 'libFuzzer: firmware/Makefile missing, not run.',
];
const table = lines.join('\n');
console.log('\n' + table);

const doc = join(root, 'docs', 'reliability.md');
if (!args.includes('--no-doc') && !subset && existsSync(doc)) {
  const text = readFileSync(doc, 'utf8');
  const begin = '<!-- chaos:results:begin -->';
  const end = '<!-- chaos:results:end -->';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) {
    writeFileSync(doc, text.slice(0, a + begin.length) + '\n' + table + '\n' + text.slice(b));
    console.log(`\nupdated ${doc}`);
  }
}
process.exitCode = stages.every((s) => s.ok) ? 0 : 1;
