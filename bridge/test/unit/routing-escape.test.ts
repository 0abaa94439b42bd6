import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { escapeLevel, unescapeWord, topicToKey, keyToTopic } from '../../src/routing/escape.ts';

const vectors = JSON.parse(readFileSync(new URL('../../../shared/protocol/vectors/topic-escape.json', import.meta.url), 'utf8')) as {
  vectors: Array<{ level: string; word: string }>;
};

describe('escapeLevel / unescapeWord (PROTOCOL.md section 9)', () => {
  it.each(vectors.vectors)('$level <-> $word', ({ level, word }) => {
    expect(escapeLevel(level)).toBe(word);
    expect(unescapeWord(word)).toBe(level);
  });

  it('round-trips any string, and an escaped word never holds . * #', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const w = escapeLevel(s);
        expect(unescapeWord(w)).toBe(s);
        expect(w).not.toMatch(/[.*#]/);
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips strings made of the special characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('%', '.', '*', '#', '2', 'E', 'A', '3', '5', 'x') }), (s) => {
        expect(unescapeWord(escapeLevel(s))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves a % that is not one of the four codes alone', () => {
    expect(unescapeWord('a%41b%')).toBe('a%41b%');
  });

  it('maps whole topics reversibly, / to .', () => {
    expect(topicToKey('factory/fl.1/node*/#')).toBe('factory.fl%2E1.node%2A.%23');
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 6 }), (levels) => {
        const topic = levels.map((l) => l.replaceAll('/', '')).join('/');
        expect(keyToTopic(topicToKey(topic))).toBe(topic);
      }),
    );
  });
});
