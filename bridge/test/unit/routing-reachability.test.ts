import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkRoutes, ruleCanMatch } from '../../src/routing/reachability.ts';
import type { RoutingRule } from '../../src/routing/rules.ts';

const FACTORY: RoutingRule = { name: 'factory', filter: 'factory/+floor/+device/telemetry', key: 'factory.{floor}.{sensor}', split: 'sensor' };
const FIVE: RoutingRule = { filter: 'factory/+floor/+line/+node/#', key: 'factory.{floor}.{line}.{node}.{sensor}', split: 'sensor' };
const LITERAL5: RoutingRule = { filter: '#', key: 'factory.floor1.line3.node7.temperature', split: 'none' };
const TOPIC: RoutingRule = { filter: '#', key: '{topic}', split: 'none' };
const rule = (key: string, filter = '#'): RoutingRule => ({ filter, key, split: 'none' });

describe('ruleCanMatch: key template vs AMQP binding pattern', () => {
  it.each([
    // the seed bindings
    [FACTORY, 'factory.floor1.*', true],
    [FACTORY, 'factory.*.temperature', true],
    [FACTORY, 'factory.#', true],
    [FACTORY, 'factory.floor1.line3.node7.temperature', false],
    [FACTORY, 'factory.*', false],
    [FACTORY, 'factory.*.*.*', false],
    [FACTORY, 'lab.#', false],
    [FACTORY, '#', true],
    [FACTORY, 'factory.#.temperature', true],
    [FACTORY, '*.*.*', true],
    [FIVE, 'factory.floor1.line3.node7.temperature', true],
    [FIVE, 'factory.floor1.*', false],
    [FIVE, 'factory.*.temperature', false],
    [FIVE, 'factory.#', true],
    [FIVE, 'factory.*.*.*.temperature', true],
    [LITERAL5, 'factory.floor1.line3.node7.temperature', true],
    [LITERAL5, 'factory.floor1.#', true],
    [LITERAL5, 'factory.floor2.#', false],
    [LITERAL5, 'factory.*.temperature', false],
    [LITERAL5, '#.temperature', true],
    [LITERAL5, '#.#', true],
    // {topic} is one or more words
    [TOPIC, 'factory.floor1.*', true],
    [TOPIC, 'a', true],
    [TOPIC, '', false],
    [TOPIC, 'factory.floor1.line3.node7.temperature', true],
    [rule('x.{topic}'), 'x', false],
    [rule('x.{topic}'), 'x.#', true],
    [rule('x.{topic}'), '#.y', true],
    [rule('x.{topic}'), '*.*.*.z', true],
    [rule('x.{topic}.y'), 'x.y', false],
    [rule('x.{topic}.y'), 'x.#.y', true],
    [rule('{topic}.{topic}'), 'a', false],
    [rule('{topic}.{topic}'), 'a.b.c', true],
    // literal text inside a word must appear as written
    [rule('node-{device}'), 'node-7', true],
    [rule('node-{device}'), 'temp', false],
    [rule('node-{device}'), '*', true],
    [rule('node-{device}'), 'node-7.x', false],
    [rule('{device}-{fw}'), 'a-b', true],
    [rule('{device}-{fw}'), 'ab', false],
    [rule('pre{topic}'), 'prefix', true],
    [rule('pre{topic}'), 'other', false],
    [rule('pre{topic}'), 'prea.b', true],
    [rule('pre{topic}'), 'a.b', false],
    [rule('{topic}suf'), 'a.b.xsuf', true],
    [rule('{topic}suf'), 'a.b.x', false],
    // escaped values never hold `.`, `*` or `#` as characters
    [rule('{device}'), 'a*b', false],
    [rule('{device}'), 'a%2Eb', true],
    // #name captures are one or more words (zero gives an empty word: bad_key)
    [rule('f.{rest}', 'f/#rest'), 'f.a.b.c', true],
    [rule('f.{rest}', 'f/#rest'), 'f', false],
    [rule('f.{one}', 'f/+one'), 'f.a.b', false],
  ] as const)('%j vs %s -> %s', (r, pattern, expected) => {
    expect(ruleCanMatch(r, pattern)).toBe(expected);
  });

  // Reference: AMQP topic matching of one concrete key, written independently of the DP.
  const amqpMatch = (key: string[], pat: string[]): boolean => {
    if (pat.length === 0) return key.length === 0;
    const [p, ...rest] = pat;
    if (p === '#') return amqpMatch(key, rest) || (key.length > 0 && amqpMatch(key.slice(1), pat));
    if (key.length === 0) return false;
    return (p === '*' || p === key[0]) && amqpMatch(key.slice(1), rest);
  };
  // Every key a template of whole-word placeholders can produce, over a small alphabet
  // (enough: a placeholder only ever needs a binding literal or some other word).
  const expand = (words: string[], maxTopic: number): string[][] => {
    if (words.length === 0) return [[]];
    const [w, ...rest] = words;
    const tails = expand(rest, maxTopic);
    const heads: string[][] =
      w === '{device}' ? [['a'], ['b'], ['z']] : w === '{topic}' ? seqs(maxTopic) : [[w!]];
    return heads.flatMap((h) => tails.map((t) => [...h, ...t]));
  };
  const seqs = (max: number): string[][] => {
    const out: string[][] = [];
    const go = (prefix: string[]) => {
      if (prefix.length > 0) out.push(prefix);
      if (prefix.length < max) for (const x of ['a', 'b', 'z']) go([...prefix, x]);
    };
    go([]);
    return out;
  };

  it('agrees with brute force over small templates and patterns', () => {
    const templateWord = fc.constantFrom('a', 'b', '{device}', '{topic}');
    const patternWord = fc.constantFrom('a', 'b', '*', '#');
    fc.assert(
      fc.property(
        fc.array(templateWord, { minLength: 1, maxLength: 3 }).filter((w) => w.filter((x) => x === '{topic}').length <= 1),
        fc.array(patternWord, { minLength: 1, maxLength: 4 }),
        (tWords, pWords) => {
          const brute = expand(tWords, pWords.length + 1).some((key) => amqpMatch(key, pWords));
          expect(ruleCanMatch(rule(tWords.join('.')), pWords.join('.'))).toBe(brute);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('checkRoutes', () => {
  const bindings = [
    { queue: 'floor1.all', pattern: 'factory.floor1.*' },
    { queue: 'temperature.all', pattern: 'factory.*.temperature' },
    { queue: 'factory.archive', pattern: 'factory.#' },
    { queue: 'node7.temperature', pattern: 'factory.floor1.line3.node7.temperature' },
    { queue: 'factory.archive', pattern: 'factory.*' },
  ];

  it('reports the queues each rule reaches, and a rule to nowhere', () => {
    const lab = rule('lab.{device}', 'lab/#');
    const results = checkRoutes([FACTORY, FIVE, lab, TOPIC], bindings);
    expect(results.map((r) => [r.rule, r.reachable, r.queues])).toEqual([
      [FACTORY, true, ['floor1.all', 'temperature.all', 'factory.archive']],
      [FIVE, true, ['factory.archive', 'node7.temperature']],
      [lab, false, []],
      [TOPIC, true, ['floor1.all', 'temperature.all', 'factory.archive', 'node7.temperature']],
    ]);
  });

  it('no bindings: nothing is reachable', () => {
    expect(checkRoutes([TOPIC], [])).toEqual([{ rule: TOPIC, reachable: false, queues: [] }]);
  });

  it('a rule that does not compile is reported, not thrown', () => {
    const [r] = checkRoutes([rule('{nope}')], bindings);
    expect(r).toMatchObject({ reachable: false, queues: [], error: expect.stringContaining('{nope}') });
  });
});
