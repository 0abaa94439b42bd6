// The store's in-memory index keeps ids as uint32 offsets from a base: ids far apart
// (a store that has lived long, ids above 2^32) must still be found and read back exactly.
import { describe, expect, it } from 'vitest';
import { GONE, PENDING, RecordIndex } from '../../src/store/record-index.ts';

describe('RecordIndex ids', () => {
  it('reads back and finds ids above 2^32, across growth and a rebase', () => {
    const ix = new RecordIndex();
    const start = 2 ** 40 + 5;
    const ids: number[] = [];
    for (let i = 0; i < 3000; i++) ids.push(start + i * 3); // grows past the initial 1024 entries
    for (const id of ids) ix.push(id, 1, 0, 10, Date.now());
    for (let k = 0; k < ids.length; k++) expect(ix.idAt(k)).toBe(ids[k]);
    expect(ix.find(ids[1234]!)).toBe(1234);
    expect(ix.find(ids[1234]! + 1)).toBe(-1);
    // Retire the oldest half, then push an id more than 2^32 past the old base: the base moves up.
    for (let k = 0; k < 1500; k++) ix.state[k] = GONE;
    ix.advanceHead();
    const far = ids[0]! + 2 ** 32 + 10;
    ix.push(far, 2, 0, 10, Date.now());
    expect(ix.idAt(ix.tail - 1)).toBe(far);
    expect(ix.find(far)).toBe(ix.tail - 1);
    for (let k = ix.head; k < ix.tail - 1; k++) expect(ix.idAt(k)).toBe(ids[k]);
    expect(ix.find(ids[2999]!)).toBe(2999);
    expect(ix.state[ix.tail - 1]).toBe(PENDING);
  });

  it('refuses live ids that would span more than 2^32', () => {
    const ix = new RecordIndex();
    ix.push(7, 1, 0, 10, Date.now());
    expect(() => ix.push(7 + 2 ** 32 + 1, 1, 0, 10, Date.now())).toThrow(RangeError);
    expect(ix.idAt(0)).toBe(7);
  });

  it('starts a new base once it is empty', () => {
    const ix = new RecordIndex();
    ix.push(10, 1, 0, 10, Date.now());
    ix.state[0] = GONE;
    ix.advanceHead();
    ix.push(2 ** 45, 1, 0, 10, Date.now());
    expect(ix.idAt(ix.head)).toBe(2 ** 45);
    expect(ix.find(2 ** 45)).toBe(ix.head);
  });
});
