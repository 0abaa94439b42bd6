// loadConfig: defaults <- file <- env <- --set flags, then one validation pass.
// Every problem is collected and reported together, each naming its path, what
// was expected, what was found and where it came from.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { bridgeConfigSchema, type BridgeConfig } from './schema.ts';
import { redactSecrets } from '../observe/redact.ts';
import { defOf, type Schema } from '../adapters/zod.ts';

export const ENV_PREFIX = 'EDGE_BRIDGE__';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** `raw`: the merged file/env/flags before validation, so `start` can still find its HTTP address. */
  constructor(
    readonly problems: string[],
    readonly raw: unknown = undefined,
  ) {
    super(`invalid config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`);
  }
}

export interface LoadConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** `path.to.key=value`, as given to --set; later ones win. */
  overrides?: string[];
}

type Path = Array<string | number>;
type Raw = Record<string, unknown>;

export function loadConfig(opts: LoadConfigOptions = {}): BridgeConfig {
  const problems: string[] = [];
  // Where each value came from, by path key; the longest prefix of a bad path wins.
  const sources = new Map<string, string>();
  let raw: Raw = {};

  if (opts.file !== undefined) {
    raw = readConfigFile(opts.file, problems);
    sources.set('', `file ${opts.file}`);
  }

  const envKeys = Object.keys(opts.env ?? {}).filter((k) => k.startsWith(ENV_PREFIX)).sort();
  for (const name of envKeys) {
    const value = opts.env![name] ?? '';
    applyOverride(raw, name.slice(ENV_PREFIX.length).split('__'), value, `env ${name}`, problems, sources);
  }

  for (const o of opts.overrides ?? []) {
    const eq = o.indexOf('=');
    if (eq <= 0) {
      problems.push(`--set ${o}: expected path=value`);
      continue;
    }
    const path = o.slice(0, eq).replace(/\[(\d+)\]/g, '.$1').split('.');
    // The source names the setting, not its value: values may hold passwords.
    applyOverride(raw, path, o.slice(eq + 1), `--set ${o.slice(0, eq)}`, problems, sources);
  }

  const result = bridgeConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...describeIssue(issue, raw, sources));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, raw);
  return result.data;
}

/** The config with no file, env or flags: what the bridge runs with by default. */
export function defaultConfig(): BridgeConfig {
  return bridgeConfigSchema.parse({});
}

function readConfigFile(file: string, problems: string[]): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return {};
  }
  const ext = extname(file).toLowerCase();
  const json = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && text.trimStart().startsWith('{'));
  let data: unknown;
  try {
    data = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    problems.push(`config file ${file} is not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
  if (data === null || data === undefined) return {}; // an empty file means all defaults
  if (typeof data !== 'object' || Array.isArray(data)) {
    problems.push(`config file ${file}: expected a map of settings at the top level, found ${found(data)}`);
    return {};
  }
  return data as Raw;
}

// --- overrides (env and --set) ---

function applyOverride(raw: Raw, segments: string[], value: string, source: string, problems: string[], sources: Map<string, string>): void {
  const resolved = resolvePath(segments);
  if ('problem' in resolved) {
    problems.push(`${resolved.problem} (from ${source})`);
    return;
  }
  const { path, kind } = resolved;
  const conflict = setPath(raw, path, parseValue(value, kind));
  if (conflict) {
    problems.push(`${formatPath(path)}: cannot set it, ${conflict} (from ${source})`);
    return;
  }
  sources.set(pathKey(path), source);
}

type ValueKind = 'string' | 'string[]' | 'other';

/** Values are JSON when they parse as JSON, else strings; string lists also take `a,b,c`. */
function parseValue(value: string, kind: ValueKind): unknown {
  const json = tryJson(value);
  if (kind === 'string') return typeof json === 'string' ? json : value;
  if (kind === 'string[]') {
    if (Array.isArray(json)) return json;
    return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }
  return json === undefined ? value : json;
}

function tryJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** Sets a value, creating maps and lists on the way. Returns a reason when the path runs into a non-map. */
function setPath(raw: Raw, path: Path, value: unknown): string | null {
  let node: Record<string | number, unknown> = raw;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    let next = node[seg];
    if (next === undefined || next === null) {
      next = typeof path[i + 1] === 'number' ? [] : {};
      node[seg] = next;
    }
    if (typeof next !== 'object') return `${formatPath(path.slice(0, i + 1))} is ${found(next)}, not a map or list`;
    node = next as Record<string | number, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return null;
}

// --- schema walking: env names are case-insensitive and may use `_` inside a key ---


function unwrap(s: Schema): Schema {
  let cur = s;
  for (let d = defOf(cur); d.innerType; d = defOf(cur)) cur = d.innerType;
  return cur;
}

/** Object shapes at a schema node (several for a union of objects). */
function shapesOf(s: Schema): Array<Record<string, Schema>> {
  const d = defOf(unwrap(s));
  if (d.type === 'object' && d.shape) return [d.shape];
  if (d.type === 'union' && d.options) return d.options.flatMap(shapesOf);
  return [];
}

const normal = (k: string) => k.toLowerCase().replace(/[_-]/g, '');

function resolvePath(segments: string[]): { path: Path; kind: ValueKind } | { problem: string } {
  let node: Schema = bridgeConfigSchema;
  const path: Path = [];
  for (const seg of segments) {
    const d = defOf(unwrap(node));
    if (d.type === 'array' && d.element) {
      if (!/^\d+$/.test(seg)) return { problem: `${formatPath(path)}: expected a list index after it, found "${seg}"` };
      path.push(Number(seg));
      node = d.element;
      continue;
    }
    const shapes = shapesOf(node);
    if (shapes.length === 0) return { problem: `${formatPath(path)}: expected nothing after it (it has no sub-settings), found "${seg}"` };
    const keys = [...new Set(shapes.flatMap((s) => Object.keys(s)))];
    const key = keys.find((k) => k === seg) ?? keys.find((k) => normal(k) === normal(seg));
    if (!key) return { problem: `${formatPath([...path, seg])}: unknown setting${suggest(seg, keys)}; expected one of ${keys.join(', ')}` };
    path.push(key);
    node = shapes.find((s) => s[key])![key]!;
  }
  if (path.length === 0) return { problem: '(top level): expected a setting path, found nothing' };
  const d = defOf(unwrap(node));
  const kind: ValueKind =
    d.type === 'string' || d.type === 'enum' ? 'string' : d.type === 'array' && d.element && defOf(unwrap(d.element)).type === 'string' ? 'string[]' : 'other';
  return { path, kind };
}

function knownKeysAt(path: Path): string[] {
  let node: Schema = bridgeConfigSchema;
  for (const seg of path) {
    const d = defOf(unwrap(node));
    if (d.type === 'array' && d.element) node = d.element;
    else {
      const next = shapesOf(node).find((s) => s[seg as string])?.[seg as string];
      if (!next) return [];
      node = next;
    }
  }
  return [...new Set(shapesOf(node).flatMap((s) => Object.keys(s)))];
}

function suggest(word: string, keys: string[]): string {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of keys) {
    const d = normal(k) === normal(word) ? 0 : distance(k.toLowerCase(), word.toLowerCase());
    if (d < bestDist) [best, bestDist] = [k, d];
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

// --- issue -> message ---

function describeIssue(issue: z.core.$ZodIssue, raw: Raw, sources: Map<string, string>): string[] {
  const path = issue.path as Path;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(path);
    return issue.keys.map((k) => {
      const p = [...path, k];
      return `${formatPath(p)}: unknown key${suggest(k, known)}; expected one of ${known.join(', ')}${from(p, sources)}`;
    });
  }
  let expected = issue.message;
  if (!expected.startsWith('expected ')) {
    if (issue.code === 'invalid_type') expected = `expected ${issue.expected}`;
    else if (issue.code === 'invalid_value') expected = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    else expected = `expected valid input (${issue.message})`;
  }
  // Rule errors already quote what they found.
  const secret = path.some((seg) => typeof seg === 'string' && SECRET_KEY.test(seg));
  const foundPart = / found /.test(expected) ? '' : `, found ${secret ? '(hidden)' : found(valueAt(raw, path))}`;
  return [`${formatPath(path)}: ${expected}${foundPart}${from(path, sources)}`];
}

function from(path: Path, sources: Map<string, string>): string {
  for (let n = path.length; n >= 0; n--) {
    const s = sources.get(pathKey(path.slice(0, n)));
    if (s) return ` (from ${s})`;
  }
  return '';
}

function valueAt(raw: unknown, path: Path): unknown {
  let node = raw;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

function found(v: unknown): string {
  if (v === undefined) return 'nothing';
  // Never echo a password from a URL (amqp://user:pass@host) into a log: masked before quoting.
  const s = JSON.stringify(redactDeep(v)) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

const SECRET_KEY = /password|secret|token|passphrase/i;

function redactDeep(v: unknown): unknown {
  if (typeof v === 'string') return redactSecrets(v);
  if (Array.isArray(v)) return v.map(redactDeep);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) ? '(hidden)' : redactDeep(x)]));
  return v;
}

const pathKey = (path: Path) => path.join('.');

export function formatPath(path: Path): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s || '(top level)';
}
