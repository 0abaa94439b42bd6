#!/usr/bin/env node
// `npm test`: every stage in order, output streamed, each timed; all stages run
// even when one fails, and the exit code is non-zero if any failed.
//   typecheck  tsc -p tsconfig.json
//   c          make -C firmware test   (skipped while firmware/Makefile does not exist)
//   fuzz       make -C firmware fuzz FUZZ_SECONDS=5 (libFuzzer; skipped when vitest args are given)
//   ts         vitest run <extra args>  (e.g. npm test -- --project unit, or -t "name")
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const extra = process.argv.slice(2);

/** A local bin if installed, else npx without downloading anything. */
function tool(name, args) {
  const local = join(root, 'node_modules', '.bin', name);
  return existsSync(local) ? [local, args] : ['npx', ['--no', name, ...args]];
}

const stages = [
  { name: 'typecheck', cmd: () => tool('tsc', ['-p', 'tsconfig.json']) },
  {
    name: 'c',
    skip: () => (existsSync(join(root, 'firmware', 'Makefile')) ? undefined : 'firmware/Makefile does not exist yet'),
    cmd: () => ['make', ['-C', 'firmware', 'test']],
  },
  {
    // libFuzzer on the C deframer and command parser, a few seconds each: any crash fails.
    name: 'fuzz',
    skip: () => (extra.length ? 'vitest arguments given: running only the ts stage filters' : undefined),
    cmd: () => ['make', ['-C', 'firmware', 'fuzz', `FUZZ_SECONDS=${process.env.FUZZ_SECONDS ?? 5}`]],
  },
  { name: 'ts', cmd: () => tool('vitest', ['run', ...extra]) },
];

let interrupted = false;
let current;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = true;
    current?.kill(sig);
  });
}

const fmt = (ms) => `${(ms / 1000).toFixed(1)} s`;
const stamp = () => new Date().toISOString().slice(11, 19);

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit' });
    current = child;
    child.once('error', (err) => {
      console.error(`cannot run ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const results = [];
const t0 = Date.now();
for (const stage of stages) {
  if (interrupted) {
    results.push({ name: stage.name, result: 'not run', ms: 0 });
    continue;
  }
  const why = stage.skip?.();
  if (why) {
    console.log(`\n==> [${stamp()}] ${stage.name}: SKIPPED (${why})`);
    results.push({ name: stage.name, result: 'skipped', ms: 0 });
    continue;
  }
  const [cmd, args] = stage.cmd();
  console.log(`\n==> [${stamp()}] ${stage.name}: ${[cmd.startsWith(root) ? cmd.slice(root.length + 1) : cmd, ...args].join(' ')}`);
  const start = Date.now();
  const code = await run(cmd, args);
  const ms = Date.now() - start;
  results.push({ name: stage.name, result: code === 0 ? 'ok' : `FAILED (exit ${code})`, ms });
  console.log(`<== [${stamp()}] ${stage.name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${fmt(ms)}`);
}

const failed = results.filter((r) => r.result !== 'ok' && r.result !== 'skipped');
console.log('\nstage       result              time');
for (const r of results) console.log(`${r.name.padEnd(11)} ${r.result.padEnd(19)} ${r.result === 'skipped' || r.result === 'not run' ? '-' : fmt(r.ms)}`);
console.log(`${'total'.padEnd(11)} ${(failed.length ? `${failed.length} failed` : 'all ok').padEnd(19)} ${fmt(Date.now() - t0)}`);
process.exit(failed.length || interrupted ? 1 : 0);
