// Which queues can a routing rule reach? A rule's key template stands for a set
// of keys; a binding pattern (AMQP topic: `*` one word, `#` zero or more words)
// for another. The rule reaches a queue when the two sets intersect, decided by
// dynamic programming over the two word lists.
//
// A placeholder stands for any escaped value (never `.`, `*` or `#`); {topic}
// and `#name` captures stand for one or more such words. Inside a word, literal
// text must appear as written: `node-{device}` can match `node-7`, never `temp`.
import { compileRule, type KeyPart, type RoutingRule } from './rules.ts';

export interface RouteReach {
  rule: RoutingRule;
  reachable: boolean;
  /** Queues with at least one binding the rule's keys can match, in binding order. */
  queues: string[];
  /** Set when the rule does not compile (then it reaches nothing). */
  error?: string;
}

export interface QueueBinding {
  queue: string;
  pattern: string;
}

export function checkRoutes(rules: readonly RoutingRule[], bindings: readonly QueueBinding[]): RouteReach[] {
  return rules.map((rule) => {
    let alternatives: TemplateWord[][];
    try {
      alternatives = templateWords(rule);
    } catch (err) {
      return { rule, reachable: false, queues: [], error: (err as Error).message };
    }
    const queues: string[] = [];
    for (const b of bindings) {
      if (queues.includes(b.queue)) continue;
      const pattern = bindingWords(b.pattern);
      if (alternatives.some((t) => intersects(t, pattern))) queues.push(b.queue);
    }
    return { rule, reachable: queues.length > 0, queues };
  });
}

/** True when some key the rule can produce matches the AMQP binding pattern. */
export function ruleCanMatch(rule: RoutingRule, bindingPattern: string): boolean {
  const pattern = bindingWords(bindingPattern);
  return templateWords(rule).some((t) => intersects(t, pattern));
}

/** One word of a key template: `star` = zero or more free words; `free` = any one word; else `re`. */
interface TemplateWord {
  star: boolean;
  free: boolean;
  re?: RegExp;
}

type BindingWord = { kind: 'one' } | { kind: 'star' } | { kind: 'literal'; word: string };

const HOLE = Symbol('hole');
const DOT = Symbol('dot');
const STAR = Symbol('star');
type Piece = string | typeof HOLE | typeof DOT | typeof STAR;

/** Beyond this many multi-word placeholders, stop enumerating and treat the key as `#`. */
const MAX_MULTI = 8;

/**
 * The template as word lists. A multi-word placeholder is either one word or
 * `first . (zero or more) . last`; with literal text around it in the same word
 * those cases differ, so each is an alternative list.
 */
function templateWords(rule: RoutingRule): TemplateWord[][] {
  const compiled = compileRule(rule);
  const isMulti = (p: KeyPart) =>
    p.kind === 'topic' || (p.kind === 'capture' && compiled.filter.multiLevel.has(p.name));
  const multis = compiled.key.filter(isMulti).length;
  if (multis > MAX_MULTI) return [[{ star: true, free: true }]];
  const out: TemplateWord[][] = [];
  for (let mask = 0; mask < 1 << multis; mask++) {
    const pieces: Piece[] = [];
    let k = 0;
    for (const p of compiled.key) {
      if (p.kind === 'literal') {
        p.text.split('.').forEach((text, i) => {
          if (i > 0) pieces.push(DOT);
          if (text) pieces.push(text);
        });
      } else if (isMulti(p) && mask & (1 << k++)) {
        pieces.push(HOLE, DOT, STAR, DOT, HOLE);
      } else {
        pieces.push(HOLE);
      }
    }
    out.push(toWords(pieces));
  }
  return out;
}

function toWords(pieces: Piece[]): TemplateWord[] {
  const words: TemplateWord[] = [];
  let current: Piece[] = [];
  const flush = () => {
    if (current.length === 1 && current[0] === STAR) words.push({ star: true, free: true });
    else if (current.every((p) => p === HOLE)) words.push({ star: false, free: true });
    else {
      const src = current.map((p) => (p === HOLE ? '[^.*#]*' : escapeRegExp(p as string))).join('');
      words.push({ star: false, free: false, re: new RegExp(`^${src}$`) });
    }
    current = [];
  };
  for (const p of pieces) {
    if (p === DOT) flush();
    else current.push(p);
  }
  flush();
  return words;
}

function bindingWords(pattern: string): BindingWord[] {
  return pattern.split('.').map((w) => (w === '*' ? { kind: 'one' } : w === '#' ? { kind: 'star' } : { kind: 'literal', word: w }));
}

/** Can template word `t` be the same word as binding word `b`? */
function compatible(t: TemplateWord, b: BindingWord): boolean {
  if (b.kind !== 'literal') return true;
  // A placeholder value is an escaped, non-empty word: no `.`, `*` or `#`.
  if (t.free) return b.word.length > 0 && !/[.*#]/.test(b.word);
  return t.re!.test(b.word);
}

/** reach[i][j]: the rest of the template from word i and the rest of the pattern from word j share a key. */
function intersects(t: readonly TemplateWord[], b: readonly BindingWord[]): boolean {
  const n = t.length;
  const m = b.length;
  const reach: boolean[][] = Array.from({ length: n + 1 }, () => new Array<boolean>(m + 1).fill(false));
  reach[n]![m] = true;
  for (let i = n; i >= 0; i--) {
    for (let j = m; j >= 0; j--) {
      if (i === n && j === m) continue;
      const tw = t[i];
      const bw = b[j];
      let ok = false;
      if (tw?.star && reach[i + 1]![j]) ok = true; // template star matches nothing more
      else if (bw?.kind === 'star' && reach[i]![j + 1]) ok = true; // binding `#` matches nothing more
      else if (tw && bw) {
        if (!tw.star && bw.kind !== 'star') ok = compatible(tw, bw) && reach[i + 1]![j + 1]!;
        else if (tw.star && bw.kind !== 'star') ok = compatible(tw, bw) && reach[i]![j + 1]!; // star eats b's word
        else if (!tw.star && bw.kind === 'star') ok = reach[i + 1]![j]!; // `#` eats t's word
      }
      reach[i]![j] = ok;
    }
  }
  return reach[0]![0]!;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
