// Routing rules: an MQTT filter with named wildcards -> a routing-key template.
//
//   filter  factory/+floor/+device/telemetry   `+name` one level, `+` one level (unnamed),
//                                              `#` / `#name` the rest (last level only)
//   key     factory.{floor}.{sensor}           `{capture}` from the filter, plus
//                                              {device} {sensor} {fw} from the batch and
//                                              {topic} = every level escaped, joined by `.`
//
// Everything that can be checked without a message is checked here, at config
// time (compileRule); what depends on the message (key length, empty words) is
// checked per route (checkKey).
import { escapeLevel } from './escape.ts';

export type SplitMode = 'none' | 'sensor' | 'reading';

export interface RoutingRule {
  name?: string;
  filter: string;
  key: string;
  split: SplitMode;
}

/** The plugin-compatible default: MQTT `/` becomes `.`, each level escaped (PROTOCOL.md section 9). */
export const DEFAULT_RULE: RoutingRule = { name: 'default', filter: '#', key: '{topic}', split: 'none' };

/** A rule that cannot work, found at config time. `field` names the rule field at fault. */
export class RoutingRuleError extends Error {
  override readonly name = 'RoutingRuleError';
  constructor(
    readonly field: 'filter' | 'key' | 'split' | 'name',
    message: string,
  ) {
    super(message);
  }
}

export const MAX_KEY_BYTES = 255;
// `+device` / `+fw` may name a level (the factory filter does), but {device} and
// {fw} in a key always mean the batch fields: validated, and the same values as
// the message id and headers. {sensor} and {topic} cannot be captures at all.
const RESERVED = new Set(['sensor', 'topic']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type FilterLevel =
  | { kind: 'literal'; text: string }
  /** One level; capture is the index into the named captures, or -1 for plain `+`. */
  | { kind: 'one'; capture: number }
  /** Trailing `#`: zero or more levels; captured escaped and joined with `.`. */
  | { kind: 'rest'; capture: number };

export interface CompiledFilter {
  levels: FilterLevel[];
  captureNames: string[];
  /** Capture names that can span several words (`#name`). */
  multiLevel: Set<string>;
}

export type KeyPart =
  | { kind: 'literal'; text: string }
  | { kind: 'capture'; index: number; name: string }
  | { kind: 'device' }
  | { kind: 'sensor' }
  | { kind: 'fw' }
  | { kind: 'topic' };

export interface CompiledRule {
  rule: RoutingRule;
  filter: CompiledFilter;
  key: KeyPart[];
  usesSensor: boolean;
  usesTopic: boolean;
}

export function compileFilter(filter: unknown): CompiledFilter {
  if (typeof filter !== 'string' || filter.length === 0) throw new RoutingRuleError('filter', 'expected a non-empty MQTT filter');
  const parts = filter.split('/');
  const levels: FilterLevel[] = [];
  const captureNames: string[] = [];
  const multiLevel = new Set<string>();
  const capture = (name: string): number => {
    if (name === '') return -1;
    if (!NAME.test(name)) throw new RoutingRuleError('filter', `expected a capture name of [A-Za-z0-9_] (not starting with a digit), found "${name}"`);
    if (RESERVED.has(name)) throw new RoutingRuleError('filter', `capture name "${name}" is reserved for the placeholder {${name}}`);
    if (captureNames.includes(name)) throw new RoutingRuleError('filter', `capture name "${name}" is used twice`);
    captureNames.push(name);
    return captureNames.length - 1;
  };
  parts.forEach((level, i) => {
    if (level.startsWith('+')) {
      levels.push({ kind: 'one', capture: capture(level.slice(1)) });
    } else if (level.startsWith('#')) {
      if (i !== parts.length - 1) throw new RoutingRuleError('filter', `expected '#' only as the last level, found it at level ${i + 1}`);
      const index = capture(level.slice(1));
      if (index >= 0) multiLevel.add(level.slice(1));
      levels.push({ kind: 'rest', capture: index });
    } else {
      if (level.includes('+') || level.includes('#')) {
        throw new RoutingRuleError('filter', `expected '+' or '#' to start a level, found "${level}"`);
      }
      levels.push({ kind: 'literal', text: level });
    }
  });
  return { levels, captureNames, multiLevel };
}

/**
 * Matches topic levels against a compiled filter (MQTT semantics: `a/#` also
 * matches `a`; a wildcard in the first level does not match `$SYS`-style topics).
 * Returns the named captures, already escaped, or null when it does not match.
 */
export function matchFilter(filter: CompiledFilter, levels: readonly string[]): string[] | null {
  const f = filter.levels;
  const captures: string[] = new Array<string>(filter.captureNames.length);
  if (f[0] && f[0].kind !== 'literal' && levels[0]?.startsWith('$')) return null;
  for (let i = 0; i < f.length; i++) {
    const m = f[i]!;
    if (m.kind === 'rest') {
      if (m.capture >= 0) {
        let rest = '';
        for (let j = i; j < levels.length; j++) rest += (j > i ? '.' : '') + escapeLevel(levels[j]!);
        captures[m.capture] = rest;
      }
      return captures;
    }
    const level = levels[i];
    if (level === undefined) return null;
    if (m.kind === 'literal') {
      if (level !== m.text) return null;
    } else if (m.capture >= 0) {
      captures[m.capture] = escapeLevel(level);
    }
  }
  return levels.length === f.length ? captures : null;
}

export function compileKey(key: unknown, filter: CompiledFilter): KeyPart[] {
  if (typeof key !== 'string' || key.length === 0) throw new RoutingRuleError('key', 'expected a non-empty routing-key template');
  const parts: KeyPart[] = [];
  let literal = '';
  let wordHasContent = false;
  let literalBytes = 0;
  const endWord = (where: string) => {
    if (!wordHasContent) throw new RoutingRuleError('key', `expected no empty words (check the dots ${where}), found "${key}"`);
    wordHasContent = false;
  };
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c === '{') {
      const close = key.indexOf('}', i + 1);
      if (close < 0) throw new RoutingRuleError('key', `expected '}' to close the placeholder at position ${i + 1} of "${key}"`);
      const name = key.slice(i + 1, close);
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      parts.push(placeholder(name, filter, key));
      wordHasContent = true;
      i = close;
    } else if (c === '}') {
      throw new RoutingRuleError('key', `expected '}' only to close a placeholder, found a stray one at position ${i + 1} of "${key}"`);
    } else if (c === '*' || c === '#') {
      throw new RoutingRuleError('key', `expected no '${c}' in a routing key (it is a binding wildcard), found "${key}"`);
    } else {
      if (c === '.') endWord(i === 0 ? 'at the start' : `at position ${i + 1}`);
      else wordHasContent = true;
      literal += c;
      literalBytes += Buffer.byteLength(c);
    }
  }
  endWord('at the end');
  if (literal) parts.push({ kind: 'literal', text: literal });
  if (literalBytes > MAX_KEY_BYTES) throw new RoutingRuleError('key', `expected at most ${MAX_KEY_BYTES} bytes of routing key, found ${literalBytes} bytes of literal text alone`);
  return parts;
}

function placeholder(name: string, filter: CompiledFilter, key: string): KeyPart {
  switch (name) {
    case 'device':
    case 'sensor':
    case 'fw':
    case 'topic':
      return { kind: name };
  }
  const index = filter.captureNames.indexOf(name);
  if (index < 0) {
    const known = ['device', 'sensor', 'fw', 'topic', ...filter.captureNames].map((n) => `{${n}}`).join(' ');
    throw new RoutingRuleError('key', `expected a placeholder the filter captures or a batch field (${known}), found {${name}} in "${key}"`);
  }
  return { kind: 'capture', index, name };
}

/** Compiles and checks one rule; throws RoutingRuleError naming the bad field. */
export function compileRule(rule: RoutingRule): CompiledRule {
  if (rule === null || typeof rule !== 'object') throw new RoutingRuleError('filter', 'expected a rule object { filter, key, split }');
  if (rule.name !== undefined && (typeof rule.name !== 'string' || rule.name.length === 0)) {
    throw new RoutingRuleError('name', 'expected a non-empty string');
  }
  if (rule.split !== 'none' && rule.split !== 'sensor' && rule.split !== 'reading') {
    throw new RoutingRuleError('split', `expected one of 'none', 'sensor', 'reading', found ${JSON.stringify(rule.split)}`);
  }
  const filter = compileFilter(rule.filter);
  const key = compileKey(rule.key, filter);
  const usesSensor = key.some((p) => p.kind === 'sensor');
  // A batch holds many sensors: {sensor} names one only when the batch is split.
  // Deciding that here, not per batch, means a config mistake is found before
  // any data is quarantined for it.
  if (usesSensor && rule.split === 'none') {
    throw new RoutingRuleError('key', `expected {sensor} only with split 'sensor' or 'reading' (a batch can hold several sensors), found it with split 'none'`);
  }
  return { rule, filter, key, usesSensor, usesTopic: key.some((p) => p.kind === 'topic') };
}

/** Route-time check of a built key: PROTOCOL.md section 9. Returns why it is bad, or null. */
export function checkKey(key: string): string | null {
  if (key.length === 0) return 'routing key is empty';
  // Only a long key can exceed 255 bytes (UTF-8 is at most 3 bytes per UTF-16 unit).
  if (key.length > MAX_KEY_BYTES / 3) {
    const bytes = Buffer.byteLength(key);
    if (bytes > MAX_KEY_BYTES) return `routing key is ${bytes} bytes, more than ${MAX_KEY_BYTES}`;
  }
  if (key.charCodeAt(0) === 46 || key.charCodeAt(key.length - 1) === 46 || key.includes('..')) {
    return `routing key "${key}" has an empty word`;
  }
  return null;
}
