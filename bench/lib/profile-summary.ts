// Where the bridge's CPU goes: a V8 .cpuprofile (node --cpu-prof) folded into a few
// stages by self time, so the bench can print its profile findings next to the targets
// on every full run instead of once by hand. The bridge runs from an esbuild bundle;
// esbuild marks each module's code with a `// <path>.ts` comment line, which maps a
// sample's line back to its source module.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ProfileSummary {
  /** Busy milliseconds sampled (idle excluded). */
  busyMs: number;
  /** Idle share of the sampled wall time, 0..1. */
  idle: number;
  /** Share of busy time per stage, largest first, 0..1. */
  stages: Array<{ stage: string; share: number }>;
}

interface CpuProfile {
  /** Microseconds on the monotonic clock (process.hrtime's, on Linux). */
  startTime: number;
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

const PACKAGE_STAGE: Array<[RegExp, string]> = [
  [/^(aedes|aedes-[\w-]+|mqtt-packet|bl|mqemitter|fastfall|fastparallel|fastseries|reusify|retimer|hyperid|end-of-stream|readable-stream|process-nextick-args)$/, 'MQTT ingress (aedes, mqtt-packet)'],
  [/^(msgpackr|msgpackr-extract)$/, 'codec and routing'],
  [/^(amqplib|buffer-more-ints|url-parse|querystringify|requires-port)$/, 'AMQP egress (amqplib, pool, forwarder)'],
  [/^(prom-client|tdigest|bintrees|pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free)$/, 'metrics and logs'],
];

const SOURCE_STAGE: Array<[RegExp, string]> = [
  [/^ingress\//, 'MQTT ingress (aedes, mqtt-packet)'],
  [/^(codec|routing)\//, 'codec and routing'],
  [/^store\//, 'store (frames, group commit, index)'],
  [/^(egress\/|forwarder\.ts)/, 'AMQP egress (amqplib, pool, forwarder)'],
  [/^observe\//, 'metrics and logs'],
];

/** The stage of one bridge source module (path below bridge/src/). */
export function sourceStage(path: string): string {
  for (const [re, stage] of SOURCE_STAGE) if (re.test(path)) return stage;
  return 'pipeline, CLI and other bridge code';
}

/** The stage of a node_modules package. */
export function packageStage(name: string): string {
  for (const [re, stage] of PACKAGE_STAGE) if (re.test(name)) return stage;
  return 'other packages';
}

/** Module start lines of an esbuild bundle: [0-based line, path below bridge/src/]. */
export function bundleModules(text: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ \S*?bridge\/src\/(\S+\.ts)$/.exec(lines[i]!);
    if (m) out.push([i, m[1]!]);
  }
  return out;
}

export function stageOf(frame: { functionName: string; url: string; lineNumber: number }, modulesOf: (url: string) => Array<[number, string]>): string {
  const { functionName, url } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8 and native (unattributed)';
  if (url === '') return 'syscalls and buffer natives';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return packageStage(nm[1]!);
  if (url.startsWith('node:')) return 'Node core (streams, sockets, timers)';
  const src = /bridge\/src\/(\S+\.ts)$/.exec(url);
  if (src) return sourceStage(src[1]!);
  if (/bridge\/dist\//.test(url)) {
    const mods = modulesOf(url);
    let path: string | undefined;
    for (const [line, p] of mods) {
      if (line > frame.lineNumber) break;
      path = p;
    }
    return path ? sourceStage(path) : 'pipeline, CLI and other bridge code';
  }
  return 'other';
}

/** `window`: only samples taken within [fromUs, toUs] on the monotonic clock (e.g. the load phase, not start-up). */
export function summariseProfile(
  profile: CpuProfile,
  window?: { fromUs: number; toUs: number },
  readText: (url: string) => string = (u) => readFileSync(fileURLToPath(u), 'utf8'),
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const modules = new Map<string, Array<[number, string]>>();
  const modulesOf = (url: string) => {
    let m = modules.get(url);
    if (!m) {
      try {
        m = bundleModules(readText(url));
      } catch {
        m = [];
      }
      modules.set(url, m);
    }
    return m;
  };
  const stages = new Map<string, number>();
  let idle = 0;
  let total = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const frame = byId.get(profile.samples[i]!);
    if (!frame) continue;
    total += dt;
    if (frame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const stage = stageOf(frame, modulesOf);
    stages.set(stage, (stages.get(stage) ?? 0) + dt);
  }
  const busy = total - idle;
  return {
    busyMs: busy / 1000,
    idle: total > 0 ? idle / total : NaN,
    stages: [...stages].map(([stage, t]) => ({ stage, share: busy > 0 ? t / busy : 0 })).sort((a, b) => b.share - a.share),
  };
}
