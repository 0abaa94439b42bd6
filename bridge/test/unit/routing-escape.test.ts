import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { escapeLevel, unescapeWord, topicToKey, keyToTopic } from '../../src/routing/escape.ts';

// FUZZ_RUNS (a total, e.g. 1e6 in `npm run chaos`) is shared between the 3 properties here.
const fuzzTotal = Number(process.env.FUZZ_RUNS);
const runs = (base: number) => (fuzzTotal > 0 ? Math.max(base, Math.floor(fuzzTotal / 3)) : base);
const timeout = fuzzTotal > 0 ? 20_000 + Math.floor(fuzzTotal / 3) * 2 : undefined;

const vectors = JSON.parse(readFileSync(new URL('../../../shared/protocol/vectors/topic-escape.json', import.meta.url), 'utf8')) as {
  vectors: Array<{ level: string; word: string }>;
};

describe('escapeLevel / unescapeWord (PROTOCOL.md section 9)', () => {
  it.each(vectors.vectors)('$level <-> $word', ({ level, word }) => {
    expect(escapeLevel(level)).toBe(word);
    expect(unescapeWord(word)).toBe(level);
  });

  it('round-trips any string, and an escaped word never holds . * #', { timeout }, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const w = escapeLevel(s);
        expect(unescapeWord(w)).toBe(s);
        expect(w).not.toMatch(/[.*#]/);
      }),
      { numRuns: runs(1000) },
    );
  });

  it('round-trips strings made of the special characters', { timeout }, () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('%', '.', '*', '#', '2', 'E', 'A', '3', '5', 'x') }), (s) => {
        expect(unescapeWord(escapeLevel(s))).toBe(s);
      }),
      { numRuns: runs(2000) },
    );
  });

  it('leaves a % that is not one of the four codes alone', () => {
    expect(unescapeWord('a%41b%')).toBe('a%41b%');
  });

  it('maps whole topics reversibly, / to .', { timeout }, () => {
    expect(topicToKey('factory/fl.1/node*/#')).toBe('factory.fl%2E1.node%2A.%23');
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 6 }), (levels) => {
        const topic = levels.map((l) => l.replaceAll('/', '')).join('/');
        expect(keyToTopic(topicToKey(topic))).toBe(topic);
      }),
      { numRuns: runs(100) },
    );
  });
});
