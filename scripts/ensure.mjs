#!/usr/bin/env node
// Preflight for `npm start` / `npm test` (wired as prestart / pretest):
//   node scripts/ensure.mjs start   Node >= 20 and node_modules in step with package-lock.json
//   node scripts/ensure.mjs test    the same, plus the system tools the tests use, plus the C build
// Fast when everything is in place (no npm, no dpkg: file checks and one `make -q`).
// EDGE_SKIP_SYSTEM_CHECK=1 skips the system-tool check (e.g. on a machine that runs only TS tests).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2];
if (mode !== 'start' && mode !== 'test') {
  console.error('usage: node scripts/ensure.mjs <start|test>');
  process.exit(2);
}

const say = (msg) => console.error(`[ensure] ${msg}`);
const started = Date.now();

// ---- Node itself -----------------------------------------------------------
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 20) {
  say(`Node ${process.versions.node} is too old: this project needs Node >= 20.`);
  process.exit(1);
}

// ---- (a) node_modules vs package-lock.json ---------------------------------
function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const sameDeps = (a = {}, b = {}) => {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
};

/** Why node_modules must be (re)installed, and with which npm command; undefined when it is fine. */
// Always 'npm install': npm 11's 'npm ci' refuses a lock that lacks other platforms' optional packages, which this lock does (see .ci/run).
function depsProblem() {
  const pkg = readJson(join(root, 'package.json'));
  const lockPath = join(root, 'package-lock.json');
  const nm = join(root, 'node_modules');
  if (!existsSync(lockPath)) {
    const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
    const missing = Object.keys(wanted).filter((name) => !existsSync(join(nm, name, 'package.json')));
    if (missing.length) return { why: `no package-lock.json and missing ${missing.join(', ')}`, cmd: ['install'] };
    return undefined;
  }
  if (!existsSync(nm)) return { why: 'node_modules is missing', cmd: ['install'] };
  const lock = readJson(lockPath);
  const lockRoot = lock.packages?.[''] ?? {};
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    if (!sameDeps(pkg[field], lockRoot[field])) {
      return { why: `package.json ${field} differ from package-lock.json`, cmd: ['install'] };
    }
  }
  for (const [key, meta] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith('node_modules/') && !key.includes('/node_modules/')) continue; // root or workspace
    const manifest = join(root, key, 'package.json');
    if (!existsSync(manifest)) {
      if (meta.optional) continue; // e.g. a platform-specific binary for another OS
      return { why: `${key} is not installed`, cmd: ['install'] };
    }
    if (meta.link || !meta.version) continue;
    const have = readJson(manifest).version;
    if (have !== meta.version) return { why: `${key} is ${have}, package-lock.json wants ${meta.version}`, cmd: ['install'] };
  }
  return undefined;
}

const problem = depsProblem();
if (problem) {
  say(`${problem.why}: running npm ${problem.cmd.join(' ')}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, problem.cmd, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`npm ${problem.cmd.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}).`);
    process.exit(1);
  }
  const again = depsProblem();
  if (again) {
    say(`node_modules is still not in step after npm ${problem.cmd.join(' ')}: ${again.why}`);
    process.exit(1);
  }
}

if (mode === 'start') process.exit(0);

// ---- (b) system tools the tests need ---------------------------------------
// Not required: python3-msgpack / python3-crcmod (only to regenerate shared/protocol/vectors).
const searchPath = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);

function which(cmd) {
  for (const dir of searchPath) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function fuzzerRuntime() {
  const arch = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' }[process.arch] ?? process.arch;
  let dirs = [];
  try {
    dirs = readdirSync('/usr/lib').filter((d) => /^llvm-\d+$/.test(d));
  } catch {
    return false;
  }
  for (const llvm of dirs) {
    const clangLib = join('/usr/lib', llvm, 'lib', 'clang');
    let versions = [];
    try {
      versions = readdirSync(clangLib);
    } catch {
      continue;
    }
    if (versions.some((v) => existsSync(join(clangLib, v, 'lib', 'linux', `libclang_rt.fuzzer-${arch}.a`)))) return true;
  }
  return false;
}

/** libclang-rt-<N>-dev for the clang that is installed (14 on Debian 12). */
function clangRtPackage() {
  const clang = which('clang');
  const m = clang ? /llvm-(\d+)/.exec(safeRealpath(clang)) : null;
  return `libclang-rt-${m ? m[1] : '14'}-dev`;
}

function safeRealpath(p) {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function mosquittoHeader() {
  if (existsSync('/usr/include/mosquitto.h')) return true;
  if (!which('pkg-config')) return false;
  return spawnSync('pkg-config', ['--exists', 'libmosquitto']).status === 0;
}

const checks = [
  { what: 'gcc', pkg: 'build-essential', ok: () => !!which('gcc') },
  { what: 'make', pkg: 'build-essential', ok: () => !!which('make') },
  { what: 'riscv64-unknown-elf-gcc', pkg: 'gcc-riscv64-unknown-elf', ok: () => !!which('riscv64-unknown-elf-gcc') },
  {
    what: 'picolibc for riscv64-unknown-elf (picolibc.specs)',
    pkg: 'picolibc-riscv64-unknown-elf',
    ok: () => existsSync('/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs'),
  },
  { what: 'qemu-system-riscv32', pkg: 'qemu-system-misc', ok: () => !!which('qemu-system-riscv32') },
  { what: 'socat', pkg: 'socat', ok: () => !!which('socat') },
  { what: 'mosquitto', pkg: 'mosquitto', ok: () => !!which('mosquitto') },
  { what: 'mosquitto_pub', pkg: 'mosquitto-clients', ok: () => !!which('mosquitto_pub') },
  { what: 'rabbitmq-server', pkg: 'rabbitmq-server', ok: () => !!which('rabbitmq-server') },
  { what: 'clang', pkg: 'clang', ok: () => !!which('clang') },
  { what: 'libFuzzer runtime (libclang_rt.fuzzer)', pkg: clangRtPackage, ok: fuzzerRuntime },
  { what: 'wasm-ld (the C core as WebAssembly)', pkg: 'lld-14', ok: () => !!(which('wasm-ld') || which('wasm-ld-14')) },
  { what: 'valgrind', pkg: 'valgrind', ok: () => !!which('valgrind') },
  { what: 'libmosquitto headers (mosquitto.h)', pkg: 'libmosquitto-dev', ok: mosquittoHeader },
  { what: 'systemd-analyze (verifies the systemd unit)', pkg: 'systemd', ok: () => !!which('systemd-analyze') },
  { what: 'chromium (dashboard tests)', pkg: 'chromium', ok: () => existsSync('/usr/bin/chromium') },
];

if (process.env.EDGE_SKIP_SYSTEM_CHECK === '1') {
  say('EDGE_SKIP_SYSTEM_CHECK=1: not checking system tools');
} else {
  const missing = checks.filter((c) => !c.ok()).map((c) => ({ what: c.what, pkg: typeof c.pkg === 'function' ? c.pkg() : c.pkg }));
  if (missing.length) {
    say('missing system tools needed by the tests:');
    for (const m of missing) console.error(`  - ${m.what.padEnd(48)} Debian package: ${m.pkg}`);
    const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
    console.error(`\nInstall them with:\n  sudo apt-get install -y --no-install-recommends ${pkgs}\n(or run bash .ci/run, which does this as root)`);
    process.exit(1);
  }
}

// ---- (c) the C build --------------------------------------------------------
const firmware = join(root, 'firmware');
if (existsSync(join(firmware, 'Makefile'))) {
  // make -q: 0 = up to date, 1 = needs building, 2 = error (e.g. no rule for `all` yet).
  const q = spawnSync('make', ['-C', firmware, '-q', 'all'], { stdio: 'ignore' });
  if (q.status === 1) {
    say('building the C parts: make -C firmware all');
    const b = spawnSync('make', ['-C', firmware, 'all'], { stdio: 'inherit' });
    if (b.status !== 0) say('warning: make -C firmware all failed; the `c` test stage will show the errors.');
  } else if (q.status !== 0) {
    say('warning: `make -C firmware all` is not available yet (no such target?); skipping the C build.');
  }
}

if (Date.now() - started > 1000) say(`done in ${Date.now() - started} ms`);
